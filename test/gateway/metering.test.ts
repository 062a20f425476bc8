import assert from 'node:assert/strict';
import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { domain, provision, type Account } from '../harness/accounts';
import { chat, readSse } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { dailyTotals, usageRows } from '../harness/usage';
import { createUsageMeter } from '@glm-gateway/web/src/modules/usage/index';

const tokenizer = new Tiktoken(o200k);
const tokens = (texts: string[]) => texts.reduce((n, t) => n + tokenizer.encode(t).length, 0);

describe('gateway metering', function () {
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;

  before(async function () {
    this.timeout(60_000);
    stack = await startStack({ env: { UPSTREAM_PROVIDER: 'glm' } });
    services = await domain(stack);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  const messages = [{ role: 'user', content: 'four words of prompt' }];

  it('records exactly the usage a GLM-style stream reports, once per request, with a daily rollup', async () => {
    const a = await provision(services);
    for (const stream of [true, false]) {
      const res = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream, messages, fake: { chunks: 7, reasoning: 2 } });
      await res.text();
    }
    const rows = await usageRows(stack.db, a.userId, 2);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.deepEqual(
        { p: row.promptTokens, c: row.completionTokens, t: row.totalTokens, est: row.estimated, ab: row.aborted, status: row.status, key: row.keyId, model: row.model },
        { p: 4, c: 9, t: 13, est: false, ab: false, status: 200, key: a.keyId, model: 'glm-4.6' },
      );
    }
    assert.ok(rows[0]!.ttftMs !== null && rows[0]!.ttftMs >= 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await dailyTotals(stack.db, a.userId), { requests: 2, totalTokens: 26 });
    const [key] = await services.keys.listForUser(a.userId);
    assert.ok(key?.lastUsedAt, 'the key shows when it was last used');
  });

  it('writes usage once per flush interval under steady load, not once per database round trip', async function () {
    this.timeout(30_000);
    const a = await provision(services, { rpm: 100_000 });
    const send = async () => {
      const res = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages, fake: { chunks: 1 } });
      const body = await res.text();
      assert.equal(res.status, 200, body);
    };
    // Each batch numbers the rollup row it touches (seq): the batches written for this user's requests alone.
    const seq = async () => Number((await stack.db.collection('usage_daily').findOne({ userId: a.userId }))?.seq ?? 0);
    await send();
    await usageRows(stack.db, a.userId, 1);
    await new Promise((r) => setTimeout(r, 200));
    const before = await seq();
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 1_500) {
      await send();
      sent++;
    }
    const elapsed = Date.now() - started;
    await usageRows(stack.db, a.userId, sent + 1);
    await new Promise((r) => setTimeout(r, 200));
    const batches = (await seq()) - before;
    // The stack flushes every 50 ms: about one batch per interval, however fast the requests come.
    assert.ok(batches <= elapsed / 50 + 3, `${sent} requests in ${elapsed} ms were written in ${batches} batches`);
    assert.deepEqual(await dailyTotals(stack.db, a.userId), { requests: sent + 1, totalTokens: (sent + 1) * 5 });
  });

  it('writes one batch of usage from 300 people, with their daily totals and keys\' last use, and the database keeps answering', async function () {
    this.timeout(40_000);
    // One batch's rollups for 300 users: FerretDB 1.x waited for ever on an update command of 100 statements or more.
    const meter = createUsageMeter(services.db, { instance: `ins_wide${Date.now()}`, flushMs: 60_000, maxBuffered: 1_000, touchKeys: services.keys.touchLastUsed, log: services.log });
    const run = Date.now();
    const at = new Date();
    const people = Array.from({ length: 300 }, (_, i) => ({ userId: `usr_wide${run}_${i}`, keyId: `key_wide${run}_${i}` }));
    for (const [i, p] of people.entries()) {
      meter.record({
        _id: `req_wide${run}_${i}`, ...p, model: 'glm-4.6', day: at.toISOString().slice(0, 10), at, status: 200,
        promptTokens: 3, completionTokens: i, totalTokens: 3 + i, cachedTokens: 0, latencyMs: 5, ttftMs: null, stream: false, aborted: false, estimated: false,
      });
    }
    const closing = meter.close(5_000).then(() => 'written');
    assert.equal(await Promise.race([closing, new Promise((r) => setTimeout(r, 20_000, 'still writing after 20 s'))]), 'written');
    for (const [i, p] of people.entries()) assert.deepEqual(await dailyTotals(stack.db, p.userId), { requests: 1, totalTokens: 3 + i }, p.userId);
    const touched = await stack.db.collection('key_activity').countDocuments({ _id: { $in: people.map((p) => p.keyId) } as never });
    assert.equal(touched, 300);
  });

  it('estimates with a real tokenizer, and says so, when the upstream sends no usage (short and long answers)', async () => {
    // 300 chunks: a long answer's pieces are kept joined as they arrive; none may be lost on the way.
    for (const chunks of [6, 300]) {
      const a = await provision(services);
      const res = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks, text: ` w${chunks}`, usage: 'none' } });
      const { events } = await readSse(res);
      const delivered = events.filter((e) => e !== '[DONE]').map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '');
      assert.equal(delivered.join(''), ` w${chunks}`.repeat(chunks));
      const [row] = await usageRows(stack.db, a.userId, 1);
      assert.equal(row?.estimated, true);
      assert.equal(row?.completionTokens, tokens([delivered.join('')]), `${chunks} chunks`);
      assert.equal(row?.promptTokens, tokens(['user', 'four words of prompt']));
    }
  });

  it('bills an explicit zero usage as zero instead of estimating it', async () => {
    const a = await provision(services);
    await (await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks: 4, usage: 'zero' } })).text();
    const [row] = await usageRows(stack.db, a.userId, 1);
    assert.deepEqual({ t: row?.totalTokens, est: row?.estimated }, { t: 0, est: false });
  });

  it('bills a client that hangs up mid-stream for what it received, and stops the upstream', async () => {
    const a = await provision(services);
    const abort = new AbortController();
    const res = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks: 200, delayMs: 10 } }, '/v1', {}, abort.signal);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 10) text += decoder.decode((await reader.read()).value, { stream: true });
    abort.abort();
    await reader.cancel().catch(() => undefined);
    const received = text.split('\n\n').slice(0, -1).map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '');
    const [row] = await usageRows(stack.db, a.userId, 1);
    assert.equal(row?.aborted, true);
    assert.equal(row?.estimated, true);
    // The gateway may have written a few more events before it noticed; never fewer than received, never all 200.
    assert.ok(row!.completionTokens >= tokens(received), `billed ${row!.completionTokens} < received ${tokens(received)}`);
    assert.ok(row!.completionTokens < 60, `billed ${row!.completionTokens}: the upstream kept streaming after the client left`);
  });

  describe('with an OpenAI-style upstream', function () {
    let openai: Stack;
    let acct: Account;
    before(async function () {
      this.timeout(60_000);
      openai = await startStack({ env: { UPSTREAM_PROVIDER: 'openai' } });
      const s = await domain(openai);
      acct = await provision(s);
      await s.close();
    });
    after(async () => openai?.close());

    it('asks for stream usage, meters it exactly, and hides the extra chunk from clients that did not ask', async () => {
      const res = await chat(openai.servers[0]!.url, acct.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks: 5, usage: 'openai' } });
      const { events } = await readSse(res);
      assert.equal((openai.upstream.requests.at(-1)!.body.stream_options as { include_usage: boolean }).include_usage, true);
      assert.ok(events.every((e) => e === '[DONE]' || (JSON.parse(e) as { choices: unknown[] }).choices.length > 0), 'a usage-only chunk reached the client');
      const [row] = await usageRows(openai.db, acct.userId, 1);
      assert.deepEqual({ c: row?.completionTokens, est: row?.estimated }, { c: 5, est: false });
    });

    it('keeps the usage chunk for clients that asked for it', async () => {
      const res = await chat(openai.servers[0]!.url, acct.secret, { model: 'glm-4.6', stream: true, stream_options: { include_usage: true }, messages, fake: { chunks: 2, usage: 'openai' } });
      const { events } = await readSse(res);
      const last = JSON.parse(events.at(-2)!) as { choices: unknown[]; usage: { completion_tokens: number } };
      assert.deepEqual({ n: last.choices.length, c: last.usage.completion_tokens }, { n: 0, c: 2 });
    });
  });
});

describe('gateway shutdown', function () {
  this.timeout(60_000);

  it('on SIGTERM finishes the stream in flight, records its usage, then exits cleanly', async () => {
    const stack = await startStack();
    const services = await domain(stack);
    try {
      const a = await provision(services);
      const res = await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'long answer' }], fake: { chunks: 40, delayMs: 25 } });
      const reading = readSse(res);
      await new Promise((r) => setTimeout(r, 200));
      const exit = stack.servers[0]!.stop('SIGTERM');
      const { events } = await reading;
      assert.equal(events.at(-1), '[DONE]', 'the stream ran to its end');
      assert.equal(events.length, 41);
      assert.equal(await exit, 0);
      const [row] = await usageRows(stack.db, a.userId, 1, 2_000);
      assert.deepEqual({ c: row?.completionTokens, ab: row?.aborted }, { c: 40, ab: false });
    } finally {
      await services.close();
      await stack.close();
    }
  });
});
