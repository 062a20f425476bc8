import { currentAdmin } from '@/lib/web-api';

export async function GET(req: Request): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  return Response.json(await admin.services.admin.auditLog({ cursor: new URL(req.url).searchParams.get('cursor') ?? undefined }));
}
