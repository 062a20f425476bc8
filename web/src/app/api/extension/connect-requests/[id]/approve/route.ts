import { apiError, currentAccount } from '@/lib/web-api';

const refusals = {
  not_found: [404, 'No such sign-in request.'],
  expired: [410, 'This sign-in request has expired. Start again from VS Code.'],
  already_approved: [409, 'This sign-in request was already approved.'],
} as const;

export async function POST(_req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const account = await currentAccount();
  if (!account.ok) return account.response;
  const result = await account.services.extensionAuth.approve((await params).id, account.user._id);
  if (!result.ok) return apiError(refusals[result.reason][0], result.reason, refusals[result.reason][1]);
  return Response.json({ redirectTo: result.redirectTo });
}
