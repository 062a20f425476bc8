import { adminUserPatchSchema } from '@glm-gateway/shared';
import { apiError, currentAdmin, readBody } from '@/lib/web-api';

type Params = { params: Promise<{ id: string }> };
const notFound = () => apiError(404, 'not_found', 'No such user.');

export async function GET(_req: Request, { params }: Params): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const detail = await admin.services.admin.userDetail((await params).id);
  return detail ? Response.json(detail) : notFound();
}

/** Suspend / unsuspend and change limits; each change is audited with its reason. */
export async function PATCH(req: Request, { params }: Params): Promise<Response> {
  const admin = await currentAdmin();
  if (!admin.ok) return admin.response;
  const body = await readBody(req, adminUserPatchSchema);
  if (!body.ok) return body.response;
  const { id } = await params;
  const actor = { id: admin.user._id };
  const { status, rpm, dailyTokens, reason } = body.value;
  if (status) {
    const done = await admin.services.admin.setSuspended(actor, id, status === 'suspended', reason);
    if (!done.ok) return done.reason === 'own_account' ? apiError(409, 'own_account', 'Admins cannot suspend their own account.') : notFound();
  }
  if (rpm !== undefined || dailyTokens !== undefined) {
    const done = await admin.services.admin.setLimits(actor, id, { ...(rpm ? { rpm } : {}), ...(dailyTokens ? { dailyTokens } : {}) }, reason);
    if (!done.ok) return notFound();
  }
  const user = await admin.services.users.findById(id);
  return user ? Response.json({ user }) : notFound();
}
