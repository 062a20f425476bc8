import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { gw } from './harness/accounts';
import { chat } from './harness/client';
import { startStack, type Stack } from './harness/context';
import { dailyTotals } from './harness/usage';

describe('operator CLI (pnpm gw)', function () {
  this.timeout(60_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.close());

  it('creates a user, issues a key that works at /v1, lists, reports usage and revokes it', async () => {
    const created = await gw(stack, ['user:create', '--email', 'ops@example.test', '--rpm', '30', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout) as { _id: string; limits: { rpm: number } };
    assert.match(user._id, /^usr_/);
    assert.equal(user.limits.rpm, 30);

    const issued = await gw(stack, ['key:issue', 'ops@example.test', '--name', 'laptop']);
    assert.equal(issued.code, 0, issued.stderr);
    const secret = /glmgw_[0-9A-Za-z]{32}/.exec(issued.stdout)?.[0];
    assert.ok(secret, 'the secret is printed once');
    const keyId = /key_[0-9A-Za-z]+/.exec(issued.stdout)![0];

    const res = await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hello there' }], fake: { chunks: 4 } });
    assert.equal(res.status, 200);
    await res.text();
    for (let i = 0; i < 50 && (await dailyTotals(stack.db, user._id)).requests === 0; i++) await new Promise((r) => setTimeout(r, 50));

    const listed = await gw(stack, ['key:list', user._id]);
    assert.match(listed.stdout, new RegExp(`${keyId}\\s+${secret.slice(0, 12)}…\\s+active\\s+laptop`));
    assert.ok(!listed.stdout.includes(secret), 'listing never shows the secret');

    const usage = await gw(stack, ['usage', 'ops@example.test', '--json']);
    const rows = JSON.parse(usage.stdout) as { model: string; requests: number; totalTokens: number }[];
    assert.deepEqual(rows.map((r) => ({ m: r.model, n: r.requests, t: r.totalTokens })), [{ m: 'glm-4.6', n: 1, t: 6 }]);

    const revoked = await gw(stack, ['key:revoke', keyId]);
    assert.equal(revoked.code, 0, revoked.stderr);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 401);
    assert.match((await gw(stack, ['key:list', user._id])).stdout, /revoked/);
  });

  it('refuses bad input with a message and exit code 2, changing nothing', async () => {
    const bad = await gw(stack, ['user:create', '--email', 'x@example.test', '--rpm', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rpm must be a whole number/);
    const missing = await gw(stack, ['key:issue', 'nobody@example.test']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no user "nobody@example.test"/);
    assert.equal(await stack.db.collection('users').countDocuments({ email: 'x@example.test' }), 0);
    const help = await gw(stack, ['frobnicate']);
    assert.equal(help.code, 2);
    assert.match(help.stdout, /Usage: pnpm gw/);
  });

  it('names the variable when the configuration is invalid', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/gw.ts', 'key:list', 'x'], {
      cwd: resolve(import.meta.dirname, '../web'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, MONGODB_URI: 'postgres://nope', DEFAULT_RPM: 'fast' },
      encoding: 'utf8',
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /MONGODB_URI: must be a mongodb:\/\//);
    assert.match(run.stderr, /DEFAULT_RPM/);
  });
});
