import { updateKeyRequestSchema } from '@glm-gateway/shared';
import { apiError, currentAccount, readBody } from '@/lib/web-api';
import { toKeySummary } from '@/modules/keys';

type Params = { params: Promise<{ id: string }> };
const notFound = () => apiError(404, 'not_found', 'No such key.');

export async function PATCH(req: Request, { params }: Params): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const body = await readBody(req, updateKeyRequestSchema);
  if (!body.ok) return body.response;
  const key = await account.services.keys.rename(account.user._id, (await params).id, body.value.name);
  return key ? Response.json({ key: toKeySummary(key) }) : notFound();
}

export async function DELETE(_req: Request, { params }: Params): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const { id } = await params;
  if (!(await account.services.keys.findOwned(account.user._id, id))) return notFound();
  const key = await account.services.keys.revoke(id);
  return key ? Response.json({ key: toKeySummary(key) }) : notFound();
}
