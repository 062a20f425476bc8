import { createKeyRequestSchema } from '@glm-gateway/shared';
import { currentAccount, readBody } from '@/lib/web-api';
import { toKeySummary } from '@/modules/keys';

export async function GET(): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const keys = await account.services.keys.listForUser(account.user._id);
  return Response.json({ keys: keys.map((k) => toKeySummary(k)) });
}

export async function POST(req: Request): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const body = await readBody(req, createKeyRequestSchema);
  if (!body.ok) return body.response;
  const { key, secret } = await account.services.keys.issue(account.user._id, body.value.name);
  return Response.json({ key: toKeySummary(key), secret }, { status: 201 });
}
