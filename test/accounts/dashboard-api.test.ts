import assert from 'node:assert/strict';
import { apiErrorSchema, issuedKeySchema, keyListSchema, usageReportSchema } from '@glm-gateway/shared';
import { chat } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';

describe('dashboard JSON API', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let n = 0;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: clerk.env });
  });
  after(async () => stack?.close());

  /** A person signed in through Clerk, calling the API with their session token. */
  async function person() {
    const token = await clerk.sessionToken(`user_api${Date.now()}${n++}`, { azp: stack.servers[0]!.url, claims: { email: `p${n}@example.test` } });
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${stack.servers[0]!.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
    return { api };
  }

  it('without a session: 401 in the API error shape', async () => {
    const res = await fetch(`${stack.servers[0]!.url}/api/keys`);
    assert.equal(res.status, 401);
    assert.equal(apiErrorSchema.parse(await res.json()).error.code, 'unauthenticated');
    const forged = await fetch(`${stack.servers[0]!.url}/api/keys`, { headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' } });
    assert.equal(forged.status, 401);
  });

  it('a first visit before the webhook provisions the account and its default key, whose secret shows once', async () => {
    const { api } = await person();
    const { keys } = keyListSchema.parse(await (await api('/api/keys')).json());
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.secretPending, true);
    const first = await api(`/api/keys/${keys[0]!.id}/reveal`, { method: 'POST' });
    const { secret } = (await first.json()) as { secret: string };
    assert.match(secret, /^glmgw_[0-9A-Za-z]{32}$/);
    assert.ok(secret.startsWith(keys[0]!.start));
    const second = await api(`/api/keys/${keys[0]!.id}/reveal`, { method: 'POST' });
    assert.equal(second.status, 404, 'a secret is shown once only');
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const again = keyListSchema.parse(await (await api('/api/keys')).json());
    assert.equal(again.keys.length, 1, 'the visit is idempotent');
  });

  it('creates, renames, rotates and revokes keys; each secret works until revoked', async () => {
    const { api } = await person();
    const created = await api('/api/keys', { method: 'POST', body: JSON.stringify({ name: 'laptop' }) });
    assert.equal(created.status, 201);
    const { key, secret } = issuedKeySchema.parse(await created.json());
    assert.equal(key.name, 'laptop');
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 200);

    const renamed = await api(`/api/keys/${key.id}`, { method: 'PATCH', body: JSON.stringify({ name: 'work laptop' }) });
    assert.equal(((await renamed.json()) as { key: { name: string } }).key.name, 'work laptop');

    const rotated = issuedKeySchema.parse(await (await api(`/api/keys/${key.id}/rotate`, { method: 'POST' })).json());
    assert.equal(rotated.key.name, 'work laptop');
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 401, 'the old secret stops at once');
    assert.equal((await chat(stack.servers[0]!.url, rotated.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 200);

    const revoked = await api(`/api/keys/${rotated.key.id}`, { method: 'DELETE' });
    assert.equal(((await revoked.json()) as { key: { status: string } }).key.status, 'revoked');
    assert.equal((await chat(stack.servers[0]!.url, rotated.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 401);
  });

  it("another user's key id answers 404 on every key route, and changes nothing", async () => {
    const alice = await person();
    const mallory = await person();
    const { key, secret } = issuedKeySchema.parse(await (await alice.api('/api/keys', { method: 'POST', body: JSON.stringify({ name: 'mine' }) })).json());
    for (const [path, method, body] of [
      [`/api/keys/${key.id}`, 'PATCH', JSON.stringify({ name: 'pwned' })],
      [`/api/keys/${key.id}`, 'DELETE', undefined],
      [`/api/keys/${key.id}/rotate`, 'POST', undefined],
      [`/api/keys/${key.id}/reveal`, 'POST', undefined],
    ] as const) {
      const res = await mallory.api(path, { method, ...(body ? { body } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
    }
    const mine = keyListSchema.parse(await (await alice.api('/api/keys')).json()).keys.find((k) => k.id === key.id);
    assert.deepEqual({ name: mine?.name, status: mine?.status }, { name: 'mine', status: 'active' });
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const theirs = keyListSchema.parse(await (await mallory.api('/api/keys')).json());
    assert.ok(theirs.keys.every((k) => k.id !== key.id));
  });

  it('bad input gets 400 naming the field', async () => {
    const { api } = await person();
    const empty = await api('/api/keys', { method: 'POST', body: JSON.stringify({ name: '' }) });
    assert.equal(empty.status, 400);
    assert.match(apiErrorSchema.parse(await empty.json()).error.message, /name/);
    const notJson = await api('/api/keys', { method: 'POST', body: '{name:' });
    assert.equal(apiErrorSchema.parse(await notJson.json()).error.code, 'invalid_json');
    const days = await api('/api/usage?days=0');
    assert.equal(days.status, 400);
    assert.match(apiErrorSchema.parse(await days.json()).error.message, /days/);
  });

  it('usage shows requests and tokens per day and model, today against the limit, and recent requests', async () => {
    const { api } = await person();
    const { secret } = issuedKeySchema.parse(await (await api('/api/keys', { method: 'POST', body: JSON.stringify({ name: 'u' }) })).json());
    for (const model of ['glm-4.6', 'glm-4.6', 'glm-5']) {
      await (await chat(stack.servers[0]!.url, secret, { model, messages: [{ role: 'user', content: 'two words' }], fake: { chunks: 5 } })).text();
    }
    let report = usageReportSchema.parse(await (await api('/api/usage?days=7')).json());
    for (let i = 0; i < 40 && report.recent.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      report = usageReportSchema.parse(await (await api('/api/usage?days=7')).json());
    }
    assert.deepEqual(report.days.map((d) => [d.model, d.requests, d.totalTokens]), [['glm-4.6', 2, 14], ['glm-5', 1, 7]]);
    assert.deepEqual(report.today, { tokens: 21, requests: 3, limit: 1_000_000 });
    assert.equal(report.recent.length, 3);
    assert.ok(report.recent.every((e) => e.status === 200 && !e.estimated && e.latencyMs >= 0));
  });
});
