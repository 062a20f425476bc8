import { stringify } from 'csv-stringify/sync';
import { usageExportQuerySchema } from '@glm-gateway/shared';
import { apiError, currentAdmin } from '@/lib/web-api';

const COLUMNS = ['day', 'userId', 'email', 'model', 'requests', 'promptTokens', 'completionTokens', 'totalTokens'] as const;

/** Usage per user per day as CSV, streamed row by row from a database cursor. */
export async function GET(req: Request): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const query = usageExportQuerySchema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!query.success) {
    const issue = query.error.issues[0];
    return apiError(400, 'invalid_request', `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}`);
  }
  const rows = admin.services.admin.usageRows(query.data.from, query.data.to);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(stringify([COLUMNS])));
    },
    async pull(controller) {
      const next = await rows.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(stringify([COLUMNS.map((c) => next.value[c])])));
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="usage-${query.data.from}-to-${query.data.to}.csv"`, 'cache-control': 'no-store' },
  });
}
