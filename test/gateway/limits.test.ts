import assert from 'node:assert/strict';
import { openAIErrorSchema } from '@glm-gateway/shared';
import { domain, provision } from '../harness/accounts';
import { chat } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

describe('gateway limits across instances', function () {
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;
  const hi = [{ role: 'user', content: 'hi' }];

  before(async function () {
    this.timeout(90_000);
    stack = await startStack({ instances: 2 });
    services = await domain(stack);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  it('a key limited to 20 requests a minute gets exactly 20 through two instances, then 429 with Retry-After', async () => {
    const a = await provision(services, { rpm: 20 });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => chat(stack.servers[i % 2]!.url, a.secret, { model: 'glm-4.6', messages: hi }).then(async (r) => {
        if (r.status === 429) {
          const retry = Number(r.headers.get('retry-after'));
          assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
          assert.equal(openAIErrorSchema.parse(await r.json()).error.code, 'rate_limit_exceeded');
        } else await r.text();
        return r.status;
      })),
    );
    const ok = statuses.filter((s) => s === 200).length;
    // Leases may leave a slice unspent on one instance (stricter), never more than the limit.
    assert.ok(ok <= 20 && ok >= 18, `${ok} requests passed a limit of 20`);
    assert.equal(statuses.filter((s) => s === 429).length, 40 - ok);
  });

  it('a user over the daily token limit is refused on every instance until the next UTC day', async () => {
    const a = await provision(services, { dailyTokens: 100, rpm: 1000 });
    // Each request costs 1 prompt token + 30 completion tokens = 31.
    let passed = 0;
    for (let i = 0; i < 8; i++) {
      const res = await chat(stack.servers[i % 2]!.url, a.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 30 } });
      if (res.status === 200) passed++;
      else {
        assert.equal(res.status, 429);
        const retry = Number(res.headers.get('retry-after'));
        assert.ok(retry > 0 && retry <= 86_400, `Retry-After ${retry}`);
        assert.equal(openAIErrorSchema.parse(await res.json()).error.code, 'daily_token_limit_exceeded');
        continue;
      }
      await res.text();
    }
    const rows = await usageRows(stack.db, a.userId, passed);
    const used = rows.reduce((n, r) => n + r.totalTokens, 0);
    assert.ok(passed >= 3 && passed <= 4, `${passed} requests passed`);
    assert.ok(used - 100 < 31, `overshoot ${used - 100} tokens exceeds one request`);
    for (const s of stack.servers) {
      assert.equal((await chat(s.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 429);
    }
  });

  it('a budget held by a running request refuses for seconds, not until midnight, and frees when it ends', async () => {
    const a = await provision(services, { dailyTokens: 10_000, rpm: 1000 });
    const url = stack.servers[0]!.url;
    // This request may use the whole day: it holds all of it while its answer stalls after one chunk.
    const abort = new AbortController();
    const first = await chat(url, a.secret, { model: 'glm-4.6', stream: true, max_tokens: 10_000, messages: hi, fake: { chunks: 5, stallAfter: 1 } }, '/v1', {}, abort.signal);
    const reader = first.body!.getReader();
    await reader.read();

    const refused = await chat(url, a.secret, { model: 'glm-4.6', max_tokens: 100, messages: hi });
    assert.equal(refused.status, 429);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 5, `Retry-After ${retry}`);
    const body = openAIErrorSchema.parse(await refused.json());
    assert.equal(body.error.code, 'rate_limit_exceeded');
    assert.match(body.error.message, /held by your requests still running/);

    abort.abort();
    await usageRows(stack.db, a.userId, 1); // the stalled request is over and settled
    const later = await chat(url, a.secret, { model: 'glm-4.6', max_tokens: 100, messages: hi });
    assert.equal(later.status, 200);
    await later.text();
  });

  it('raising a user\'s limit takes effect without a restart', async () => {
    const a = await provision(services, { rpm: 2 });
    for (let i = 0; i < 2; i++) assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 429);
    await services.users.setLimits(a.userId, { rpm: 10 });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: hi })).status, 200);
  });
});
