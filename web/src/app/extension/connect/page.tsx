import { redirect } from 'next/navigation';
import { resolveAccount } from '@/lib/web-api';
import { describeRedirect } from '@/modules/extension-auth';
import { getServices } from '@/services';
import { ApproveButtons } from './approve-buttons';

export const dynamic = 'force-dynamic';

/** Shows who is connecting which device, and asks the signed-in person to approve it. */
export default async function ConnectPage({ searchParams }: { searchParams: Promise<{ request?: string }> }) {
  const { request } = await searchParams;
  const account = await resolveAccount();
  if (!account.ok) {
    if (account.status === 401) redirect(`/sign-in?redirect_url=${encodeURIComponent(`/extension/connect?request=${request ?? ''}`)}`);
    return <main className="page"><p role="alert">{account.message}</p></main>;
  }
  const pending = request ? await (await getServices()).extensionAuth.find(request) : null;
  if (!pending || pending.expired || pending.approvedBy) {
    return (
      <main className="page">
        <h1>Connect VS Code</h1>
        <p role="alert">This sign-in link is {pending ? (pending.approvedBy ? 'already used' : 'expired') : 'not valid'}. Run “GLM Gateway: Sign In” in VS Code again.</p>
      </main>
    );
  }
  return (
    <main className="page">
      <h1>Connect VS Code</h1>
      <section className="card">
        <p>
          <strong>{pending.deviceName}</strong> wants to use the gateway as <strong>{account.user.email ?? account.user._id}</strong>.
        </p>
        <p className="muted">
          Approving creates a gateway key for it, named “VS Code on {pending.deviceName}”, and returns to <code>{describeRedirect(pending.redirectUri)}</code>.
          Only approve a sign-in you started yourself.
        </p>
        <ApproveButtons requestId={pending._id} />
      </section>
    </main>
  );
}
