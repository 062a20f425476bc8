import { apiError, currentAccount } from '@/lib/web-api';

export async function GET(req: Request): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const raw = new URL(req.url).searchParams.get('days') ?? '30';
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1 || days > 90) return apiError(400, 'invalid_request', 'days must be a whole number from 1 to 90.');
  return Response.json(await account.services.usage.report(account.user._id, days, account.user.limits.dailyTokens));
}
