import { currentAdmin } from '@/lib/web-api';

export async function GET(req: Request): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const params = new URL(req.url).searchParams;
  return Response.json(await admin.services.admin.listUsers({ query: params.get('query') ?? undefined, cursor: params.get('cursor') ?? undefined }));
}
