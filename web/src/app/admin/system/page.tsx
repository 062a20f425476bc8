import { notFound } from 'next/navigation';
import { resolveAdmin } from '@/lib/web-api';

export const dynamic = 'force-dynamic';

/** Totals per day and model, today's top users, and failures per hour over the last day. */
export default async function SystemPage() {
  const admin = await resolveAdmin();
  if (!admin.ok) notFound();
  const { days, hours, topUsers } = await admin.services.usage.system(30);
  return (
    <main className="page wide">
      <p><a href="/admin">← Users</a></p>
      <h1>System</h1>
      <section className="card">
        <h2>Top users today</h2>
        <table>
          <thead><tr><th>User</th><th>Requests</th><th>Tokens</th></tr></thead>
          <tbody>
            {topUsers.map((u) => (
              <tr key={u.userId}><td><a href={`/admin/users/${u.userId}`}>{u.userId}</a></td><td>{u.requests}</td><td>{u.tokens.toLocaleString('en')}</td></tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h2>Failures per hour (last 24 hours, UTC)</h2>
        <table>
          <thead><tr><th>Hour</th><th>Requests</th><th>5xx</th></tr></thead>
          <tbody>
            {hours.map((h) => (
              <tr key={h.hour}><td>{h.hour.replace('T', ' ')}:00</td><td>{h.requests}</td><td>{h.failures}</td></tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card">
        <h2>Per day and model (30 days)</h2>
        <table>
          <thead><tr><th>Day</th><th>Model</th><th>Requests</th><th>Tokens</th><th>5xx</th></tr></thead>
          <tbody>
            {days.map((d) => (
              <tr key={`${d.day}-${d.model}`}><td>{d.day}</td><td>{d.model}</td><td>{d.requests}</td><td>{d.tokens.toLocaleString('en')}</td><td>{d.failures}</td></tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
