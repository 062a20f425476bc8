import { connectRequestSchema } from '@glm-gateway/shared';
import { readBody } from '@/lib/web-api';
import { getServices } from '@/services';

/** The extension registers a pending sign-in (no session: it has none yet). */
export async function POST(req: Request): Promise<Response> {
  const body = await readBody(req, connectRequestSchema);
  if (!body.ok) return body.response;
  const { extensionAuth } = await getServices();
  return Response.json(await extensionAuth.register(body.value), { status: 201 });
}
