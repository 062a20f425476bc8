import { apiError, currentAccount } from '@/lib/web-api';
import { toKeySummary } from '@/modules/keys';

export async function POST(_req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const rotated = await account.services.keys.rotate(account.user._id, (await params).id);
  if (!rotated) return apiError(404, 'not_found', 'No such active key.');
  return Response.json({ key: toKeySummary(rotated.key), secret: rotated.secret }, { status: 201 });
}
