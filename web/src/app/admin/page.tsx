import { notFound } from 'next/navigation';
import { resolveAdmin } from '@/lib/web-api';
import { userSorts, type UserSort } from '@/modules/admin';

export const dynamic = 'force-dynamic';

/** Users, newest first, with today's and 30 days' usage; search by e-mail or id; paged by cursor. */
export default async function AdminUsersPage({ searchParams }: { searchParams: Promise<{ query?: string; cursor?: string; sort?: string }> }) {
  const admin = await resolveAdmin();
  if (!admin.ok) notFound();
  const { query, cursor } = await searchParams;
  const requested = (await searchParams).sort;
  const sort: UserSort = userSorts.includes(requested as UserSort) ? (requested as UserSort) : 'newest';
  const page = await admin.services.admin.listUsers({ query, cursor, sort });
  return (
    <main className="page wide">
      <h1>Users</h1>
      <p className="muted">
        <a href="/admin/audit">Audit log</a> · <a href="/admin/system">System</a> · <a href="/api/admin/usage.csv">Export CSV</a> (add ?from=YYYY-MM-DD&amp;to=YYYY-MM-DD)
      </p>
      <form className="row" action="/admin">
        <input name="query" aria-label="Search by e-mail or id" placeholder="e-mail, usr_… or user_…" defaultValue={query ?? ''} />
        <select name="sort" aria-label="Sort" defaultValue={sort}>
          <option value="newest">Newest first</option>
          <option value="oldest">Oldest first</option>
          <option value="email">By e-mail</option>
        </select>
        <button type="submit">Search</button>
      </form>
      <table>
        <thead>
          <tr>
            <th>E-mail</th>
            <th>Joined</th>
            <th>Status</th>
            <th>Keys</th>
            <th>Today</th>
            <th>30 days</th>
            <th>Quota used</th>
            <th>Last active</th>
          </tr>
        </thead>
        <tbody>
          {page.users.map((u) => (
            <tr key={u.id}>
              <td>
                <a href={`/admin/users/${u.id}`}>{u.email ?? u.id}</a>
              </td>
              <td>{u.joined.slice(0, 10)}</td>
              <td>
                <span className={`status ${u.status === 'active' ? 'active' : 'revoked'}`}>{u.status}</span>
              </td>
              <td>{u.keys}</td>
              <td>
                {u.today.requests} req · {u.today.tokens.toLocaleString('en')} tok
              </td>
              <td>
                {u.last30.requests} req · {u.last30.tokens.toLocaleString('en')} tok
              </td>
              <td>{u.quotaUsedPct}%</td>
              <td>{u.lastActive ? u.lastActive.slice(0, 16).replace('T', ' ') : 'never'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.nextCursor ? (
        <p>
          <a href={`/admin?${new URLSearchParams({ ...(query ? { query } : {}), sort, cursor: page.nextCursor }).toString()}`}>Next page →</a>
        </p>
      ) : null}
    </main>
  );
}
