import assert from 'node:assert/strict';
import { openAIErrorSchema } from '@glm-gateway/shared';
import { createRateLimiter, type LimitSubject } from '@glm-gateway/web/src/modules/limits/index';
import { domain, provision } from '../harness/accounts';
import { chat } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

const MINUTE = 60_000;
const hi = [{ role: 'user', content: 'hi' }];
/** What each request costs: 1 prompt word and 30 completion chunks, as the upstream reports it. */
const REQUEST_TOKENS = 31;
const costly = { model: 'glm-4.6', messages: hi, fake: { chunks: 30 } };

interface Outcome {
  status: number;
  code: string | null;
  sentAt: number;
  doneAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `n` requests at once, spread over the servers in turn and over `keys`; every answer read to its end. */
async function burst(stack: Stack, keys: string[], n: number, body: unknown = costly): Promise<Outcome[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const sentAt = Date.now();
      const res = await chat(stack.servers[i % stack.servers.length]!.url, keys[Math.floor(i / stack.servers.length) % keys.length]!, body);
      const text = await res.text();
      const code = res.status === 200 ? null : openAIErrorSchema.parse(JSON.parse(text)).error.code;
      return { status: res.status, code, sentAt, doneAt: Date.now() };
    }),
  );
}

const passed = (outcomes: Outcome[]) => outcomes.filter((o) => o.status === 200);

/** Every refusal is the limit's own 429, never an error of the gateway under load. */
function assertOnlyLimitRefusals(outcomes: Outcome[], ...codes: string[]): void {
  const others = outcomes.filter((o) => o.status !== 200 && !(o.status === 429 && o.code !== null && codes.includes(o.code)));
  assert.deepEqual(others.map((o) => `${o.status} ${o.code}`), [], `only 200 or 429 ${codes.join(' / ')}`);
}

/** Units the limiter handed out for one budget (a key's minute, a user's day), from the shared table itself. */
async function granted(stack: Stack, budget: string): Promise<number> {
  const slices = await stack.db.collection('limit_slices').find({ budget }).toArray();
  return slices.reduce((n, s) => n + (s.grant as number), 0);
}

describe('limits under concurrency, across instances', function () {
  this.timeout(150_000);
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;

  before(async function () {
    this.timeout(90_000);
    stack = await startStack({ instances: 2 });
    services = await domain(stack);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  // First, because it waits for a minute boundary: the tests after it then run early in a fresh minute.
  it('at the minute rollover each minute admits at most the RPM limit, and the new minute starts fresh', async function () {
    this.timeout(120_000);
    const rpm = 30;
    const a = await provision(services, { rpm, dailyTokens: 10_000_000 });
    const boundary = Math.ceil((Date.now() + 2_000) / MINUTE) * MINUTE;
    await sleep(boundary - 1_500 - Date.now());
    const before = burst(stack, [a.secret], 100);
    await sleep(Math.max(0, boundary + 150 - Date.now()));
    const after = burst(stack, [a.secret], 100);
    const outcomes = [...(await before), ...(await after)];
    assertOnlyLimitRefusals(outcomes, 'rate_limit_exceeded');

    // Only requests answered before the boundary surely counted against the old minute, and only requests
    // sent after it against the new one; each group must fit its minute's limit.
    const oldMinute = passed(outcomes).filter((o) => o.doneAt < boundary).length;
    const newMinute = passed(outcomes).filter((o) => o.sentAt >= boundary).length;
    assert.ok(oldMinute <= rpm, `${oldMinute} requests passed in the old minute, limit ${rpm}`);
    assert.ok(newMinute <= rpm, `${newMinute} requests passed in the new minute, limit ${rpm}`);
    assert.ok(newMinute > 0 && passed(outcomes).length > rpm, 'the new minute admitted requests again');
    // The limiter's own books: neither minute handed out more than the limit, and no request passed without them.
    const minute = boundary / MINUTE;
    const [grantedOld, grantedNew] = [await granted(stack, `rpm:${a.keyId}:${minute - 1}`), await granted(stack, `rpm:${a.keyId}:${minute}`)];
    assert.ok(grantedOld <= rpm && grantedNew <= rpm, `granted ${grantedOld} and ${grantedNew} of ${rpm}`);
    assert.ok(passed(outcomes).length <= grantedOld + grantedNew, `${passed(outcomes).length} passed on ${grantedOld + grantedNew} granted`);
  });

  it('200 concurrent requests on one key over two instances: never more than the RPM limit pass', async () => {
    const rpm = 50;
    const a = await provision(services, { rpm, dailyTokens: 10_000_000 });
    // Away from a minute boundary, so one window holds the whole burst (the test above leaves us early in one).
    const left = MINUTE - (Date.now() % MINUTE);
    if (left < 15_000) await sleep(left + 100);
    const minute = Math.floor(Date.now() / MINUTE);
    const outcomes = await burst(stack, [a.secret], 200);
    assert.equal(Math.floor(Date.now() / MINUTE), minute, 'the burst stayed within one minute');
    assertOnlyLimitRefusals(outcomes, 'rate_limit_exceeded');
    const ok = passed(outcomes).length;
    assert.ok(ok <= rpm, `${ok} requests passed a limit of ${rpm}`);
    // Budget claimed by an instance but not spent there only makes the limit stricter, by at most a slice each.
    assert.ok(ok >= rpm - 2 * Math.ceil(rpm / 20), `only ${ok} of ${rpm} allowed requests passed`);
    assert.ok((await granted(stack, `rpm:${a.keyId}:${minute}`)) <= rpm);
  });

  for (const [title, body] of [
    ['each holding enough for its answer (max_tokens)', { ...costly, max_tokens: 30 }],
    ['each needing more than the whole limit holds for it', costly],
  ] as const) {
    it(`200 concurrent requests from one user with two keys over two instances, ${title}: the day's tokens exceed the limit by less than one request`, async () => {
      const dailyTokens = 40 * REQUEST_TOKENS;
      const a = await provision(services, { rpm: 100_000, dailyTokens });
      const second = await services.keys.issue(a.userId, 'second');
      const outcomes = await burst(stack, [a.secret, second.secret], 200, body);
      // While the rest of the day is held by requests still running, the refusal says so (rate_limit_exceeded,
      // retry in seconds); once it is spent, it is the daily limit.
      assertOnlyLimitRefusals(outcomes, 'daily_token_limit_exceeded', 'rate_limit_exceeded');
      const ok = passed(outcomes).length;
      const rows = await usageRows(stack.db, a.userId, ok);
      assert.equal(rows.length, ok, 'every admitted request was metered');
      const used = rows.reduce((n, r) => n + r.totalTokens, 0);
      assert.ok(rows.every((r) => r.totalTokens === REQUEST_TOKENS));
      assert.ok(used < dailyTokens + REQUEST_TOKENS, `${used} tokens used on a limit of ${dailyTokens}: overshoot ${used - dailyTokens}`);
      assert.ok(ok >= 1, 'some requests passed');
      // Once the burst is over, the rest of the day is refused everywhere only if the budget is really spent.
      const next = await burst(stack, [a.secret, second.secret], 4, body);
      const more = passed(next).length;
      const total = (await usageRows(stack.db, a.userId, ok + more)).reduce((n, r) => n + r.totalTokens, 0);
      assert.ok(total < dailyTokens + REQUEST_TOKENS, `${total} tokens used after the burst on a limit of ${dailyTokens}`);
    });
  }
});

describe('the daily token limit, kept by limiters in this process on the shared database', function () {
  this.timeout(60_000);
  let stack: Stack;
  let instances: Awaited<ReturnType<typeof domain>>[];

  before(async function () {
    this.timeout(60_000);
    stack = await startStack({ instances: 0 });
    instances = [await domain(stack), await domain(stack)];
  });
  after(async () => {
    for (const s of instances ?? []) await s.close();
    await stack?.close();
  });

  it('admits 300 new users at once, and hands back what they held but did not spend when it stops', async () => {
    // 300 leases returned at once: FerretDB 1.x waited for ever on an update command of 100 statements or more.
    const limiter = createRateLimiter(instances[0]!.db, instances[0]!.log);
    const run = Date.now();
    const subjects: LimitSubject[] = Array.from({ length: 300 }, (_, i) => ({ keyId: `key_giveback${run}_${i}`, userId: `usr_giveback${run}_${i}`, rpm: 1_000, dailyTokens: 100_000 }));
    const now = new Date();
    // All at once: their 600 first claims reach the database together.
    const decisions = await Promise.all(subjects.map((s) => limiter.admit(s, 500, now)));
    for (const [i, d] of decisions.entries()) {
      assert.ok(d.ok, `user ${i} admitted`);
      limiter.settle(subjects[i]!, d, 7, now);
    }
    const closing = limiter.close().then(() => 'closed');
    assert.equal(await Promise.race([closing, sleep(20_000).then(() => 'still closing after 20 s')]), 'closed');
    const slices = await stack.db.collection('limit_slices').find({ budget: { $in: subjects.map((s) => `tok:${s.userId}:${now.toISOString().slice(0, 10)}`) } }).toArray();
    const held = new Map<string, number>();
    for (const x of slices) held.set(x.budget as string, (held.get(x.budget as string) ?? 0) + (x.grant as number));
    assert.equal(held.size, 300);
    assert.deepEqual(new Set(held.values()), new Set([7]), 'each user keeps exactly what was spent');
  });

  it('requests that start before midnight and end after it do not lend the new day budget it never had', async () => {
    const limiters = instances.map((s) => createRateLimiter(s.db, s.log));
    try {
      const subject: LimitSubject = { keyId: 'key_rollover', userId: `usr_rollover${Date.now()}`, rpm: 1_000_000, dailyTokens: 1_000 };
      const dayStart = Date.parse('2031-03-02T00:00:00Z');
      // 20 requests admitted a moment before midnight, holding 100 tokens each, split over both instances...
      const lateOnes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => limiters[i % 2]!.admit(subject, 100, new Date(dayStart - 100)).then((d) => ({ d, i }))),
      );
      const admittedLate = lateOnes.filter(({ d }) => d.ok);
      assert.equal(admittedLate.length, 10, 'the old day admits exactly its limit');
      // ...answer after midnight with far fewer tokens than they held.
      for (const { d, i } of admittedLate) if (d.ok) limiters[i % 2]!.settle(subject, d, 30, new Date(dayStart + 50));

      // The new day has its own 1,000 tokens, no more: 200 requests of exactly 100 tokens each, on both instances.
      const newDay = await Promise.all(
        Array.from({ length: 200 }, (_, i) => limiters[i % 2]!.admit(subject, 100, new Date(dayStart + 100)).then((d) => ({ d, i }))),
      );
      const admitted = newDay.filter(({ d }) => d.ok);
      for (const { d, i } of admitted) if (d.ok) limiters[i % 2]!.settle(subject, d, 100, new Date(dayStart + 200));
      const spent = admitted.reduce((n, { d }) => n + (d.ok ? d.held : 0), 0);
      assert.ok(spent <= 1_000, `${spent} tokens admitted on the new day, limit 1000`);
      assert.ok(admitted.length >= 1, 'the new day admits requests');
      assert.ok(
        newDay.every(({ d }) => d.ok || d.reason === 'daily_tokens' || d.reason === 'daily_tokens_held'),
        'refusals name the daily limit',
      );
    } finally {
      await Promise.all(limiters.map((l) => l.close()));
    }
  });
});
