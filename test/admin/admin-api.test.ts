import assert from 'node:assert/strict';
import { apiErrorSchema, openAIErrorSchema } from '@glm-gateway/shared';
import { domain, gw, provision, type Account } from '../harness/accounts';
import { chat } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

describe('admin API', function () {
  this.timeout(90_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let services: Awaited<ReturnType<typeof domain>>;
  const hi = [{ role: 'user', content: 'hi' }];

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ instances: 2, env: { ...clerk.env, ADMIN_USER_IDS: 'user_bootstrap_admin' } });
    services = await domain(stack);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  /** Calls the API on instance `i` as a Clerk user with extra session claims. */
  async function as(clerkId: string, claims: Record<string, unknown> = {}, i = 0) {
    const url = stack.servers[i]!.url;
    const token = await clerk.sessionToken(clerkId, { azp: url, claims });
    return (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  }
  const admin = () => as('user_bootstrap_admin');

  it('refuses non-admins: 403 on every admin API, 404 on admin pages', async () => {
    const mallory = await as(`user_plain${Date.now()}`);
    for (const [path, method] of [
      ['/api/admin/users', 'GET'],
      ['/api/admin/users/usr_x', 'GET'],
      ['/api/admin/users/usr_x', 'PATCH'],
      ['/api/admin/users/usr_x/credits', 'POST'],
      ['/api/admin/keys/key_x', 'DELETE'],
      ['/api/admin/audit', 'GET'],
      ['/api/admin/usage.csv?from=2026-01-01&to=2026-01-02', 'GET'],
    ] as const) {
      const res = await mallory(path, { method, ...(method === 'GET' ? {} : { body: JSON.stringify({ reason: 'trying my luck' }) }) });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(apiErrorSchema.parse(await res.json()).error.code, 'forbidden');
    }
    const page = await fetch(`${stack.servers[0]!.url}/admin`, { headers: { authorization: `Bearer ${await clerk.sessionToken('user_plain2', { azp: stack.servers[0]!.url })}` } });
    assert.equal(page.status, 404);
    assert.equal((await fetch(`${stack.servers[0]!.url}/api/admin/users`)).status, 401);
  });

  it('admits an admin by session role claim as well as by ADMIN_USER_IDS', async () => {
    assert.equal((await (await as(`user_role${Date.now()}`, { metadata: { role: 'admin' } }))('/api/admin/users')).status, 200);
    assert.equal((await (await admin())('/api/admin/users')).status, 200);
  });

  it('lists and finds users with their usage', async () => {
    const a = await provision(services);
    await (await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 9 } })).text();
    await usageRows(stack.db, a.userId, 1);
    await new Promise((r) => setTimeout(r, 300));
    const api = await admin();
    const { users } = (await (await api(`/api/admin/users?query=${a.userId}`)).json()) as { users: { id: string; today: { requests: number; tokens: number }; keys: number }[] };
    assert.equal(users.length, 1);
    assert.deepEqual({ id: users[0]!.id, today: users[0]!.today, keys: users[0]!.keys }, { id: a.userId, today: { requests: 1, tokens: 10 }, keys: 1 });
    const email = (await services.users.findById(a.userId))!.email!;
    const byEmail = (await (await api(`/api/admin/users?query=${encodeURIComponent(email)}`)).json()) as { users: { id: string }[] };
    assert.deepEqual(byEmail.users.map((u) => u.id), [a.userId]);
  });

  it('a suspension reaches the other instance within 5 seconds, and is audited with its reason', async () => {
    const a = await provision(services);
    assert.equal((await chat(stack.servers[1]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    const started = Date.now();
    const res = await (await admin())(`/api/admin/users/${a.userId}`, { method: 'PATCH', body: JSON.stringify({ status: 'suspended', reason: 'abuse report 42' }) });
    assert.equal(res.status, 200);
    let status = 200;
    while (status !== 403 && Date.now() - started < 5_000) {
      status = (await chat(stack.servers[1]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status;
      if (status !== 403) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 403, 'still served 5 s after suspension');
    const { entries } = (await (await (await admin())('/api/admin/audit')).json()) as { entries: { action: string; target: string; reason: string; before: unknown; after: unknown; actor: string }[] };
    const entry = entries.find((e) => e.target === a.userId);
    assert.deepEqual(entry && { action: entry.action, reason: entry.reason, before: entry.before, after: entry.after }, { action: 'user.suspend', reason: 'abuse report 42', before: { status: 'active' }, after: { status: 'suspended' } });
    await (await admin())(`/api/admin/users/${a.userId}`, { method: 'PATCH', body: JSON.stringify({ status: 'active', reason: 'resolved' }) });
  });

  it('changes a user\'s RPM; the gateway enforces the new limit', async () => {
    const a = await provision(services, { rpm: 100 });
    const res = await (await admin())(`/api/admin/users/${a.userId}`, { method: 'PATCH', body: JSON.stringify({ rpm: 1, reason: 'trial account' }) });
    assert.equal(((await res.json()) as { user: { limits: { rpm: number } } }).user.limits.rpm, 1);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    const limited = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi });
    assert.equal(limited.status, 429);
    assert.match(openAIErrorSchema.parse(await limited.json()).error.message, /1 requests per minute/);
  });

  it('a credits grant lets a user past the daily limit by exactly the granted amount', async () => {
    // Each request costs exactly 31 tokens (1 prompt word + 30 completion chunks).
    const a: Account = await provision(services, { dailyTokens: 93, rpm: 1000 });
    const ask = () => chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 30 } }).then(async (r) => (await r.text(), r.status));
    assert.deepEqual([await ask(), await ask(), await ask(), await ask()], [200, 200, 200, 429]);
    const res = await (await admin())(`/api/admin/users/${a.userId}/credits`, { method: 'POST', body: JSON.stringify({ tokens: 62, reason: 'conference demo' }) });
    assert.equal(res.status, 201);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual([await ask(), await ask(), await ask()], [200, 200, 429]);
    const rows = await usageRows(stack.db, a.userId, 5);
    assert.equal(rows.reduce((n, r) => n + r.totalTokens, 0), 93 + 62);
  });

  it('revokes a key with a reason; the key stops at once', async () => {
    const a = await provision(services);
    const res = await (await admin())(`/api/admin/keys/${a.keyId}`, { method: 'DELETE', body: JSON.stringify({ reason: 'leaked in a public repo' }) });
    assert.equal(((await res.json()) as { key: { status: string } }).key.status, 'revoked');
    assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 401);
  });

  it('invalid input gets 400 naming the field, and changes nothing', async () => {
    const a = await provision(services, { rpm: 7 });
    const api = await admin();
    const noReason = await api(`/api/admin/users/${a.userId}`, { method: 'PATCH', body: JSON.stringify({ rpm: 5 }) });
    assert.equal(noReason.status, 400);
    assert.match(apiErrorSchema.parse(await noReason.json()).error.message, /reason/);
    const badRpm = await api(`/api/admin/users/${a.userId}`, { method: 'PATCH', body: JSON.stringify({ rpm: -1, reason: 'typo' }) });
    assert.match(apiErrorSchema.parse(await badRpm.json()).error.message, /rpm/);
    const badCredits = await api(`/api/admin/users/${a.userId}/credits`, { method: 'POST', body: JSON.stringify({ tokens: 'lots', reason: 'x y z' }) });
    assert.match(apiErrorSchema.parse(await badCredits.json()).error.message, /tokens/);
    const badRange = await api('/api/admin/usage.csv?from=2026-05-01&to=2026-04-01');
    assert.equal(badRange.status, 400);
    assert.match(apiErrorSchema.parse(await badRange.json()).error.message, /from/);
    assert.equal((await services.users.findById(a.userId))!.limits.rpm, 7);
    assert.equal((await api('/api/admin/users/usr_nobody', { method: 'PATCH', body: JSON.stringify({ rpm: 5, reason: 'who?' }) })).status, 404);
  });

  it('exports usage per user per day as streamed CSV with no secrets in it', async () => {
    const a = await provision(services);
    for (let i = 0; i < 2; i++) await (await chat(stack.servers[i]!.url, a.secret, { model: 'glm-5', messages: hi, fake: { chunks: 4 } })).text();
    await usageRows(stack.db, a.userId, 2);
    await new Promise((r) => setTimeout(r, 300));
    const today = new Date().toISOString().slice(0, 10);
    const res = await (await admin())(`/api/admin/usage.csv?from=${today}&to=${today}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    const text = await res.text();
    const lines = text.trim().split('\n');
    assert.equal(lines[0], 'day,userId,email,model,requests,promptTokens,completionTokens,totalTokens');
    const mine = lines.filter((l) => l.includes(a.userId));
    // Two instances wrote the two requests; the export merges them into one row.
    assert.deepEqual(mine.map((l) => l.split(',').slice(3)), [['glm-5', '2', '2', '8', '10']]);
    assert.ok(!text.includes(a.secret) && !text.includes(stack.upstream.apiKey) && !/glmgw_[0-9A-Za-z]{32}/.test(text));
  });
});

describe('admin system view and usage retention', function () {
  this.timeout(90_000);
  let stack: Stack;
  let clerk: FakeClerk;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: { ...clerk.env, ADMIN_USER_IDS: 'user_sys_admin', USAGE_EVENT_RETENTION_DAYS: '30' } });
  });
  after(async () => stack?.close());

  it('shows totals per day and model, 5xx per hour, and today\'s top user', async () => {
    const services = await domain(stack);
    const heavy = await provision(services);
    await services.close();
    await (await chat(stack.servers[0]!.url, heavy.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }], fake: { chunks: 40 } })).text();
    await (await chat(stack.servers[0]!.url, heavy.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }], fake: { status: 500 } })).text();
    await usageRows(stack.db, heavy.userId, 2);
    await new Promise((r) => setTimeout(r, 300));
    const url = stack.servers[0]!.url;
    const token = await clerk.sessionToken('user_sys_admin', { azp: url });
    const system = (await (await fetch(`${url}/api/admin/system`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      days: { model: string; requests: number; tokens: number; failures: number }[];
      hours: { requests: number; failures: number }[];
      topUsers: { userId: string; tokens: number }[];
    };
    assert.deepEqual(system.days.map((d) => [d.model, d.requests, d.tokens, d.failures]), [['glm-4.6', 2, 41, 1]]);
    assert.deepEqual(system.hours.reduce((t, h) => [t[0]! + h.requests, t[1]! + h.failures], [0, 0]), [2, 1]);
    assert.equal(system.topUsers[0]?.userId, heavy.userId);
  });

  it('pruning deletes raw events past the retention but keeps the daily rollups', async () => {
    const old = new Date(Date.now() - 40 * 86_400_000);
    await stack.db.collection('usage_events').insertOne({ _id: 'req_old_one' as never, userId: 'usr_old', keyId: 'key_old', model: 'glm-4.6', day: old.toISOString().slice(0, 10), at: old, status: 200, promptTokens: 1, completionTokens: 1, totalTokens: 2, latencyMs: 1, ttftMs: 1, stream: false, aborted: false, estimated: false });
    await stack.db.collection('usage_daily').insertOne({ _id: 'usr_old:x' as never, instance: 'ins_x', userId: 'usr_old', day: old.toISOString().slice(0, 10), model: 'glm-4.6', requests: 1, failures: 0, promptTokens: 1, completionTokens: 1, totalTokens: 2 });
    const recent = await stack.db.collection('usage_events').countDocuments({ at: { $gte: new Date(Date.now() - 86_400_000) } });
    const res = await gw(stack, ['usage:prune'], { USAGE_EVENT_RETENTION_DAYS: '30' });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /1 usage events older than 30 days deleted/);
    assert.equal(await stack.db.collection('usage_events').countDocuments({ _id: 'req_old_one' as never }), 0);
    assert.equal(await stack.db.collection('usage_events').countDocuments({ at: { $gte: new Date(Date.now() - 86_400_000) } }), recent);
    assert.equal(await stack.db.collection('usage_daily').countDocuments({ userId: 'usr_old' }), 1);
  });
});

describe('admin users list paging', function () {
  this.timeout(90_000);
  let stack: Stack;
  let clerk: FakeClerk;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: { ...clerk.env, ADMIN_USER_IDS: 'user_pager' } });
    const services = await domain(stack);
    for (let i = 0; i < 120; i++) await services.users.create({ email: `p${String(i).padStart(3, '0')}@example.test` });
    await services.close();
  });
  after(async () => stack?.close());

  for (const sort of ['email', 'newest', 'oldest'] as const) {
    it(`pages through every user exactly once, in order, sorted by ${sort}`, async () => {
      const url = stack.servers[0]!.url;
      const token = await clerk.sessionToken('user_pager', { azp: url });
      const seen: { email: string | null; joined: string }[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await fetch(`${url}/api/admin/users?sort=${sort}${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
        const page = (await res.json()) as { users: { email: string | null; joined: string }[]; nextCursor: string | null };
        assert.ok(page.users.length <= 50);
        seen.push(...page.users);
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      const emails = seen.map((u) => u.email).filter((e): e is string => e?.startsWith('p') ?? false);
      assert.equal(emails.length, 120);
      assert.equal(new Set(emails).size, 120, 'no user twice');
      if (sort === 'email') assert.deepEqual(emails, [...emails].sort());
      const joined = seen.map((u) => u.joined);
      if (sort === 'newest') assert.deepEqual(joined, [...joined].sort().reverse());
      if (sort === 'oldest') assert.deepEqual(joined, [...joined].sort());
    });
  }
});
