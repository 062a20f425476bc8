import { currentAdmin } from '@/lib/web-api';

export async function GET(): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  return Response.json(await admin.services.usage.system(30));
}
