import { apiError, currentAccount } from '@/lib/web-api';

/** Shows a provisioned key's secret the first time only. */
export async function POST(_req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const secret = await account.services.provisioning.revealSecret(account.user._id, (await params).id);
  if (!secret) return apiError(404, 'not_found', 'No secret to show: it was shown once already, or the key is not yours.');
  return Response.json({ secret }, { headers: { 'cache-control': 'no-store' } });
}
