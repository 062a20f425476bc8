import { notFound } from 'next/navigation';
import { resolveAdmin } from '@/lib/web-api';
import { UsagePanel } from '../../../dashboard/usage-panel';
import { AdminActions } from './admin-actions';

export const dynamic = 'force-dynamic';

export default async function AdminUserPage({ params }: { params: Promise<{ id: string }> }) {
  const admin = await resolveAdmin();
  if (!admin.ok) notFound();
  const detail = await admin.services.admin.userDetail((await params).id);
  if (!detail) notFound();
  const { user, keys, report, credits, history } = detail;
  return (
    <main className="page wide">
      <p>
        <a href="/admin">← Users</a>
      </p>
      <h1>{user.email ?? user._id}</h1>
      <p className="muted">
        {user._id} · joined {user.createdAt.toISOString().slice(0, 10)} · <span className={`status ${user.status === 'active' ? 'active' : 'revoked'}`}>{user.status}</span>
      </p>
      <section className="card">
        <h2>Limits in force</h2>
        <p>
          {user.limits.rpm} requests/min per key · {user.limits.dailyTokens.toLocaleString('en')} tokens/day · {credits.toLocaleString('en')} credit tokens left
        </p>
        <AdminActions userId={user._id} status={user.status} rpm={user.limits.rpm} dailyTokens={user.limits.dailyTokens} keys={keys} />
      </section>
      <UsagePanel report={report} />
      <section className="card">
        <h2>History</h2>
        {history.length === 0 ? (
          <p className="muted">No admin actions yet.</p>
        ) : (
          <ul>
            {history.map((h) => (
              <li key={h._id}>
                {h.at.toISOString().slice(0, 16).replace('T', ' ')} — {h.action} by {h.actor}: “{h.reason}”
              </li>
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}
