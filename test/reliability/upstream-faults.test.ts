import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { openAIErrorSchema } from '@glm-gateway/shared';
import type { FakeOptions } from '../fake-upstream/server';
import { domain, provision, type Account } from '../harness/accounts';
import { chat, readSse } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { dailyTotals, usageRows } from '../harness/usage';
import { expectOpenAIError, waitFor } from './expect';

/** Fewer upstream connections than each fault is repeated: one connection not handed back starves the pool. */
const POOL = 4;
const REPEAT = POOL + 2;

type Expected =
  /** An error answer before any output; nothing billed. */
  | { answer: 'error'; status: number; code: string; retryAfter?: string }
  /** A stream that delivers `delivered` chunks, then one error event; billed for what it delivered. */
  | { answer: 'broken stream'; delivered: number; code: string }
  /** A normal answer; billed what the upstream reported. */
  | { answer: 'ok'; billed: number; estimated: boolean };

interface Fault {
  name: string;
  stream: boolean;
  /** A function for options that depend on the time of the request. */
  fake: FakeOptions | (() => FakeOptions);
  expect: Expected;
}

const faults: Fault[] = [
  { name: 'stalls before the first byte', stream: true, fake: { stallBeforeMs: 5_000 }, expect: { answer: 'error', status: 504, code: 'upstream_timeout' } },
  { name: 'stalls mid-stream', stream: true, fake: { chunks: 10, stallAfter: 3 }, expect: { answer: 'broken stream', delivered: 3, code: 'upstream_timeout' } },
  { name: 'answers 500', stream: true, fake: { status: 500 }, expect: { answer: 'error', status: 502, code: 'upstream_error' } },
  {
    name: 'answers 429 with a Retry-After date',
    stream: true,
    fake: () => ({ status: 429, code: '1302', retryAfter: new Date(Date.now() + 3_600_000).toUTCString() }),
    expect: { answer: 'error', status: 429, code: 'upstream_rate_limited', retryAfter: 'about an hour' },
  },
  { name: 'sends malformed SSE', stream: true, fake: { chunks: 6, malformed: 2 }, expect: { answer: 'broken stream', delivered: 2, code: 'upstream_error' } },
  { name: 'sends an error event after 200 and some chunks', stream: true, fake: { chunks: 8, errorAfter: 4, code: '1301' }, expect: { answer: 'broken stream', delivered: 4, code: 'content_filtered' } },
  // Long enough that the upstream is still sending when the gateway gives up: the rest must be cut off.
  { name: 'streams more than the size cap', stream: true, fake: { chunks: 400, padding: 1_000, delayMs: 1 }, expect: { answer: 'broken stream', delivered: -1, code: 'upstream_error' } },
  { name: 'answers more than the size cap at once', stream: false, fake: { chunks: 3, padding: 20_000 }, expect: { answer: 'error', status: 502, code: 'upstream_error' } },
  { name: 'reports zero usage explicitly', stream: false, fake: { chunks: 5, usage: 'zero' }, expect: { answer: 'ok', billed: 0, estimated: false } },
];

describe('upstream faults', function () {
  this.timeout(120_000);
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;

  before(async function () {
    stack = await startStack({
      env: {
        UPSTREAM_CONNECTIONS: String(POOL),
        UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '300',
        UPSTREAM_IDLE_TIMEOUT_MS: '300',
        MAX_RESPONSE_BYTES: '16384',
      },
    });
    services = await domain(stack);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  const url = () => stack.servers[0]!.url;
  const messages = [{ role: 'user', content: 'hello there' }];

  it('a client that stops reading a stream is cut off after the idle timeout, freeing the upstream, and billed as aborted', async function () {
    this.timeout(60_000);
    // Large enough to fill both sockets' buffers, so the gateway's writes stop draining; under the size cap.
    const server = await stack.addServer({ UPSTREAM_IDLE_TIMEOUT_MS: '500', MAX_RESPONSE_BYTES: String(64 * 1024 * 1024) });
    const a = await provision(services, { rpm: 1_000, dailyTokens: 100_000_000 });
    const body = JSON.stringify({ model: 'glm-4.6', stream: true, messages, fake: { chunks: 6_000, padding: 3_000 } });
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname, () =>
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.secret}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    );
    socket.on('error', () => undefined);
    socket.pause(); // and never read
    try {
      const [row] = await usageRows(stack.db, a.userId, 1, 20_000);
      assert.ok(row, 'the stream ended and was metered while the client still held its connection');
      assert.deepEqual({ aborted: row.aborted, status: row.status }, { aborted: true, status: 499 });
      assert.ok(row.completionTokens > 0 && row.completionTokens < 6_000, `billed for what was delivered: ${row.completionTokens} tokens`);
      await waitFor(async () => stack.upstream.activeResponses(), (n) => n === 0, 5_000);
    } finally {
      socket.destroy();
      // Its upstream connections would count against the pool the fault tests below check.
      await server.stop();
      await waitFor(async () => stack.upstream.openSockets(), (n) => n <= POOL, 5_000);
    }
  });

  it('an event of an unexpected shape ends that stream cleanly or passes through, and never takes the gateway down', async () => {
    const a = await provision(services, { rpm: 1_000 });
    // Not an object: the stream ends with one error event. An object with odd fields: relayed as it came.
    const odd: [string, 'error' | 'relayed'][] = [
      ['null', 'error'],
      ['[1,2]', 'error'],
      ['"text"', 'error'],
      ['7', 'error'],
      ['{"choices":[null]}', 'relayed'],
      ['{"choices":{}}', 'relayed'],
      ['{"choices":[{"delta":null,"message":7}]}', 'relayed'],
      ['{"choices":[{"delta":{"tool_calls":[null,{"function":null},{"function":{"name":5}}]}}]}', 'relayed'],
      ['{"choices":[],"usage":5}', 'relayed'],
      // Counts that are not counts are never billed: estimated, or left out where the rest is usable.
      ['{"choices":[],"usage":{"prompt_tokens":"3","completion_tokens":2,"total_tokens":5}}', 'relayed'],
      ['{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":"5","prompt_tokens_details":{"cached_tokens":{}}}}', 'relayed'],
      ['{"choices":[],"usage":{"prompt_tokens":-3,"completion_tokens":2.5}}', 'relayed'],
    ];
    for (const [data, outcome] of odd) {
      const res = await chat(url(), a.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks: 4, malformed: 2, malformedText: data } });
      assert.equal(res.status, 200, data);
      const { events } = await readSse(res);
      assert.equal(events.length, 3, `${data}: two chunks, then one more event`);
      if (outcome === 'error') assert.equal(openAIErrorSchema.parse(JSON.parse(events.at(-1)!)).error.code, 'upstream_error', data);
      else assert.equal(events.at(-1), data, `${data} is relayed as it came`);
    }
    const after = await chat(url(), a.secret, { model: 'glm-4.6', messages, fake: { chunks: 3 } });
    assert.equal(after.status, 200, 'the gateway still serves');
    await after.text();
    const rows = await usageRows(stack.db, a.userId, odd.length + 1);
    assert.equal(rows.length, odd.length + 1, 'every request is metered once');
    assert.ok(rows.every((r) => Number.isSafeInteger(r.totalTokens) && r.totalTokens >= 0), `with a count of tokens, whatever the usage field held: ${rows.map((r) => JSON.stringify(r.totalTokens)).join(' ')}`);
    const billed = rows.reduce((n, r) => n + r.totalTokens, 0);
    await waitFor(() => dailyTotals(stack.db, a.userId), (t) => t.requests === rows.length, 5_000);
    assert.deepEqual(await dailyTotals(stack.db, a.userId), { requests: rows.length, totalTokens: billed }, 'the daily rollup adds up to the same numbers');
  });

  /**
   * Nothing leaks: every upstream answer the gateway gave up on was closed (not left streaming into a
   * connection nobody reads), and the pool still serves twice its size at once.
   */
  async function assertNothingLeaked(): Promise<void> {
    assert.equal(await waitFor(async () => stack.upstream.activeResponses(), (n) => n === 0, 5_000), 0, 'abandoned upstream answers still open');
    assert.ok(stack.upstream.openSockets() <= POOL, `${stack.upstream.openSockets()} connections to the upstream for a pool of ${POOL}`);
    const a = await provision(services, { rpm: 1_000 });
    const burst = await Promise.all(
      Array.from({ length: 2 * POOL }, async (_, i) => {
        const res = await chat(url(), a.secret, { model: 'glm-4.6', stream: i % 2 === 0, messages, fake: { chunks: 4, delayMs: 5 } }, '/v1', {}, AbortSignal.timeout(10_000));
        return { status: res.status, text: await res.text() };
      }),
    );
    assert.deepEqual(burst.map((b) => b.status), Array(2 * POOL).fill(200));
    assert.ok(burst.every((b, i) => (i % 2 === 0 ? b.text.endsWith('data: [DONE]\n\n') : b.text.includes(' tok tok tok tok'))));
  }

  /** What the client got, checked against the fault's promise; returns the completion chunks it received. */
  async function callAndCheck(a: Account, f: Fault): Promise<number> {
    const res = await chat(url(), a.secret, { model: 'glm-4.6', stream: f.stream, messages, fake: typeof f.fake === 'function' ? f.fake() : f.fake });
    const e = f.expect;
    if (e.answer === 'error') {
      const message = await expectOpenAIError(res, e.status, e.code);
      assert.ok(!message.includes('acct_') && !message.includes(stack.upstream.url), `the upstream's words leak: ${message}`);
      if (e.retryAfter) assert.ok(Math.abs(Number(res.headers.get('retry-after')) - 3_600) <= 2, `retry-after ${res.headers.get('retry-after')} is not ${e.retryAfter}`);
      return 0;
    }
    if (e.answer === 'ok') {
      assert.equal(res.status, 200);
      await res.text();
      return 0;
    }
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const parsed = events.map((ev) => JSON.parse(ev) as Record<string, unknown>);
    const errors = parsed.filter((p) => 'error' in p);
    assert.equal(errors.length, 1, `one error event, got ${events.join(' | ')}`);
    assert.equal(parsed.at(-1), errors[0], 'the error event ends the stream');
    const error = openAIErrorSchema.parse(errors[0]).error;
    assert.equal(error.code, e.code);
    assert.ok(!error.message.includes('acct_'), `the upstream's words leak: ${error.message}`);
    const delivered = parsed.length - 1;
    if (e.delivered >= 0) assert.equal(delivered, e.delivered);
    else assert.ok(delivered > 0 && delivered < 20, `${delivered} chunks of 1 kB passed a 16 kB cap`);
    return delivered;
  }

  for (const f of faults) {
    it(`an upstream that ${f.name}: the client gets a clear answer every time, billed for what it got`, async () => {
      const a = await provision(services, { rpm: 1_000 });
      const delivered: number[] = [];
      for (let i = 0; i < REPEAT; i++) delivered.push(await callAndCheck(a, f));
      const rows = await usageRows(stack.db, a.userId, REPEAT);
      assert.equal(rows.length, REPEAT, 'one usage record per request');
      rows.forEach((row, i) => {
        const e = f.expect;
        if (e.answer === 'error') assert.deepEqual({ t: row.totalTokens, s: row.status }, { t: 0, s: e.status });
        if (e.answer === 'ok') assert.deepEqual({ t: row.totalTokens, est: row.estimated }, { t: e.billed, est: e.estimated });
        // Rows come back in time order, as the requests were made.
        if (e.answer === 'broken stream') assert.deepEqual({ c: row.completionTokens, est: row.estimated }, { c: delivered[i], est: true });
      });
      assert.equal((await fetch(`${url()}/api/health`)).status, 200, 'the gateway stays healthy');
      await assertNothingLeaked();
    });
  }

  it('an upstream that refuses connections: 502 until it is back, then service resumes by itself', async () => {
    const a = await provision(services, { rpm: 1_000 });
    await stack.upstream.offline();
    try {
      for (let i = 0; i < REPEAT; i++) {
        await expectOpenAIError(await chat(url(), a.secret, { model: 'glm-4.6', stream: true, messages }), 502, 'upstream_unreachable');
      }
      assert.equal((await fetch(`${url()}/api/health`)).status, 200);
    } finally {
      await stack.upstream.online();
    }
    await assertNothingLeaked();
  });
});
