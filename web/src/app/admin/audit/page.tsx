import { notFound } from 'next/navigation';
import { resolveAdmin } from '@/lib/web-api';

export const dynamic = 'force-dynamic';

export default async function AuditPage({ searchParams }: { searchParams: Promise<{ cursor?: string }> }) {
  const admin = await resolveAdmin();
  if (!admin.ok) notFound();
  const { entries, nextCursor } = await admin.services.admin.auditLog({ cursor: (await searchParams).cursor });
  return (
    <main className="page wide">
      <p><a href="/admin">← Users</a></p>
      <h1>Audit log</h1>
      <table>
        <thead>
          <tr><th>When (UTC)</th><th>Who</th><th>What</th><th>Target</th><th>Reason</th><th>Before → after</th></tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e._id}>
              <td>{e.at.toISOString().slice(0, 19).replace('T', ' ')}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td>{e.target}</td>
              <td>{e.reason}</td>
              <td><code>{JSON.stringify(e.before)} → {JSON.stringify(e.after)}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      {nextCursor ? <p><a href={`/admin/audit?cursor=${encodeURIComponent(nextCursor)}`}>Older →</a></p> : null}
    </main>
  );
}
