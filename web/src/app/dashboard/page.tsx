import { redirect } from 'next/navigation';
import { resolveAccount } from '@/lib/web-api';
import { toKeySummary } from '@/modules/keys';
import { KeysPanel } from './keys-panel';
import { QuickStart } from './quick-start';
import { UsagePanel } from './usage-panel';

export const dynamic = 'force-dynamic';

export default async function DashboardPage() {
  const account = await resolveAccount();
  if (!account.ok) {
    if (account.status === 401) redirect('/sign-in');
    return (
      <main className="page">
        <p role="alert">{account.message}</p>
      </main>
    );
  }
  const { user, services } = account;
  const [keys, usage] = await Promise.all([services.keys.listForUser(user._id), services.usage.report(user._id, 30, user.limits.dailyTokens)]);
  return (
    <main className="page wide">
      <h1>Your gateway</h1>
      <p className="muted">
        Signed in as <strong>{user.email ?? user._id}</strong> · {user.limits.rpm} requests/min per key · {user.limits.dailyTokens.toLocaleString('en')} tokens/day
      </p>
      <KeysPanel initialKeys={keys.map((k) => toKeySummary(k))} />
      <UsagePanel report={usage} />
      <QuickStart baseUrl={`${services.config.publicUrl}/v1`} />
    </main>
  );
}
