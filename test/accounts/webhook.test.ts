import assert from 'node:assert/strict';
import { apiErrorSchema } from '@glm-gateway/shared';
import { chat } from '../harness/client';
import { clerkDeletedEvent, clerkUserEvent, createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';

describe('Clerk provisioning webhook', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clerk: FakeClerk;
  const url = () => `${stack.servers[0]!.url}/api/webhooks/clerk`;
  const deliver = (signed: { body: string; headers: Record<string, string> }) => fetch(url(), { method: 'POST', headers: signed.headers, body: signed.body });
  const users = () => stack.db.collection('users');
  const keys = () => stack.db.collection('api_keys');
  let n = 0;
  const clerkId = () => `user_test${Date.now()}${n++}`;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: clerk.env });
  });
  after(async () => stack?.close());

  it('user.created provisions the account, default limits and one sealed default key', async () => {
    const id = clerkId();
    const res = await deliver(clerk.sign(clerkUserEvent('user.created', { id, email: 'ada@example.test', first: 'Ada', last: 'Lovelace' })));
    assert.equal(res.status, 200);
    const user = await users().findOne({ clerkId: id });
    assert.deepEqual({ email: user?.email, name: user?.name, status: user?.status, rpm: user?.limits.rpm }, { email: 'ada@example.test', name: 'Ada Lovelace', status: 'active', rpm: 60 });
    const userKeys = await keys().find({ userId: user!._id }).toArray();
    assert.equal(userKeys.length, 1);
    assert.match(String(userKeys[0]!.sealedSecret), /^v1\./, 'the secret waits sealed for its first reveal');
    assert.ok(!/glmgw_[0-9A-Za-z]{32}/.test(JSON.stringify(userKeys[0])), 'no plaintext secret is stored');
  });

  it('refuses unsigned, tampered and stale deliveries, changing nothing', async () => {
    const id = clerkId();
    const event = clerkUserEvent('user.created', { id, email: 'eve@example.test' });
    const unsigned = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    assert.equal(unsigned.status, 400);
    assert.equal(apiErrorSchema.parse(await unsigned.json()).error.code, 'invalid_signature');
    const signed = clerk.sign(event);
    const tampered = await fetch(url(), { method: 'POST', headers: signed.headers, body: signed.body.replace('eve@', 'mallory@') });
    assert.equal(tampered.status, 400);
    const stale = await deliver(clerk.sign(event, { at: new Date(Date.now() - 10 * 60_000) }));
    assert.equal(stale.status, 400);
    assert.equal(await users().countDocuments({ clerkId: id }), 0);
  });

  it('a redelivered svix id answers 2xx and does nothing', async () => {
    const id = clerkId();
    const signed = clerk.sign(clerkUserEvent('user.created', { id, email: 'bob@example.test' }));
    assert.equal((await deliver(signed)).status, 200);
    const again = await deliver(signed);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { result: string }).result, 'duplicate');
    assert.equal(await users().countDocuments({ clerkId: id }), 1);
  });

  it('the same message delivered 8 times at once, under different svix ids, yields one user and one key', async () => {
    const id = clerkId();
    const event = clerkUserEvent('user.created', { id, email: 'dup@example.test' });
    const results = await Promise.all(Array.from({ length: 8 }, () => deliver(clerk.sign(event))));
    assert.deepEqual(results.map((r) => r.status), Array(8).fill(200));
    const found = await users().find({ clerkId: id }).toArray();
    assert.equal(found.length, 1);
    assert.equal(await keys().countDocuments({ userId: found[0]!._id }), 1);
  });

  it('an update that arrives before its create is not lost, and the late create does not undo it', async () => {
    const id = clerkId();
    const t = Date.now();
    assert.equal((await deliver(clerk.sign(clerkUserEvent('user.updated', { id, email: 'new@example.test', updatedAt: t + 1000 })))).status, 200);
    assert.equal((await deliver(clerk.sign(clerkUserEvent('user.created', { id, email: 'old@example.test', updatedAt: t })))).status, 200);
    const user = await users().findOne({ clerkId: id });
    assert.equal(user?.email, 'new@example.test');
    assert.equal(await keys().countDocuments({ userId: user!._id }), 1);
  });

  it('user.deleted marks the user deleted and its keys stop working at /v1 at once', async () => {
    const id = clerkId();
    await deliver(clerk.sign(clerkUserEvent('user.created', { id, email: 'gone@example.test' })));
    const user = await users().findOne({ clerkId: id });
    // The owner reveals the provisioned secret through the dashboard API, then uses it.
    const token = await clerk.sessionToken(id, { azp: stack.servers[0]!.url });
    const list = (await (await fetch(`${stack.servers[0]!.url}/api/keys`, { headers: { authorization: `Bearer ${token}` } })).json()) as { keys: { id: string }[] };
    const reveal = await fetch(`${stack.servers[0]!.url}/api/keys/${list.keys[0]!.id}/reveal`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const { secret } = (await reveal.json()) as { secret: string };
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 200);

    assert.equal((await deliver(clerk.sign(clerkDeletedEvent(id)))).status, 200);
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 401);
    const after = await users().findOne({ _id: user!._id });
    assert.equal(after?.status, 'deleted');
    assert.equal(await keys().countDocuments({ userId: user!._id, revokedAt: null }), 0);
    // A late, redelivered create does not bring the account back.
    await deliver(clerk.sign(clerkUserEvent('user.created', { id, email: 'gone@example.test' })));
    assert.equal((await users().findOne({ _id: user!._id }))?.status, 'deleted');
  });

  it('a deletion that arrives before the creation leaves a tombstone, not an account', async () => {
    const id = clerkId();
    await deliver(clerk.sign(clerkDeletedEvent(id)));
    await deliver(clerk.sign(clerkUserEvent('user.created', { id, email: 'late@example.test' })));
    const user = await users().findOne({ clerkId: id });
    assert.equal(user?.status, 'deleted');
    assert.equal(await keys().countDocuments({ userId: user!._id, revokedAt: null }), 0);
  });

  it('a signed but malformed event gets 400 naming the field', async () => {
    const res = await deliver(clerk.sign({ type: 'user.created', data: { email_addresses: [] } }));
    assert.equal(res.status, 400);
    assert.match(apiErrorSchema.parse(await res.json()).error.message, /data\.id/);
  });
});
