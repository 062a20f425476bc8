import { adminCreditsSchema } from '@glm-gateway/shared';
import { apiError, currentAdmin, readBody } from '@/lib/web-api';

export async function POST(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const body = await readBody(req, adminCreditsSchema);
  if (!body.ok) return body.response;
  const done = await admin.services.admin.grantCredits({ id: admin.user._id }, (await params).id, body.value.tokens, body.value.reason);
  return done.ok ? Response.json(done.value, { status: 201 }) : apiError(404, 'not_found', 'No such user.');
}
