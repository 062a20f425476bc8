import { adminRevokeKeySchema } from '@glm-gateway/shared';
import { apiError, currentAdmin, readBody } from '@/lib/web-api';

export async function DELETE(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const body = await readBody(req, adminRevokeKeySchema);
  if (!body.ok) return body.response;
  const done = await admin.services.admin.revokeKey({ id: admin.user._id }, (await params).id, body.value.reason);
  return done.ok ? Response.json({ key: done.value }) : apiError(404, 'not_found', 'No such key.');
}
