import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { domain, provision, type Account } from '../harness/accounts';
import { startStack, type Stack } from '../harness/context';
import { dailyTotals, usageRows, type StoredUsage } from '../harness/usage';
import { waitFor } from './expect';

/*
 * What "billed equals delivered" can mean, and what this suite proves.
 *
 * The gateway bills what it delivered: the upstream's usage when the event carrying it reached the client,
 * otherwise its own count (o200k) of the answer and reasoning text in the events it wrote to the client's
 * socket before it saw the client go away. What a client *read* cannot be the measure: bytes the gateway
 * wrote a moment before a hang-up are in flight, and a client that resets its connection throws them away.
 *
 * So the clients here watch the wire themselves (raw HTTP over a socket, no fetch):
 * - a client that reads to the end (including ones whose stream the upstream reset) must be billed exactly
 *   the tokens it received;
 * - a client that leaves by half-closing (FIN) keeps reading until the gateway closes its side, so it sees
 *   every byte the gateway wrote, before and after it noticed: it must be billed exactly that;
 * - a client that leaves by resetting (RST) sees only what it read: it is billed at least that, and never
 *   more than the upstream sent.
 */

const tokenizer = new Tiktoken(o200k);
const countTokens = (texts: string[]) => texts.reduce((n, t) => n + tokenizer.encode(t).length, 0);

/** mulberry32: a small seeded generator, so a failing run can be replayed exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Leave = { after: number; how: 'half-close' | 'reset' };

interface WireResult {
  status: number;
  requestId: string;
  /** Answer and reasoning text of every event that arrived, in order. */
  received: string[];
  /** How many completion events had arrived when the client left (null: it read to the end). */
  readWhenLeft: number | null;
  errors: { code?: unknown }[];
  done: boolean;
}

/** Undoes HTTP/1.1 chunked framing as bytes arrive. */
class Dechunker {
  private pending = Buffer.alloc(0);
  private readonly decoder = new TextDecoder();
  push(bytes: Buffer): string {
    this.pending = Buffer.concat([this.pending, bytes]);
    let out = '';
    for (;;) {
      const eol = this.pending.indexOf('\r\n');
      if (eol < 0) return out;
      const size = parseInt(this.pending.subarray(0, eol).toString('latin1'), 16);
      if (size === 0 || this.pending.length < eol + 2 + size + 2) return out;
      out += this.decoder.decode(this.pending.subarray(eol + 2, eol + 2 + size), { stream: true });
      this.pending = this.pending.subarray(eol + 2 + size + 2);
    }
  }
}

/**
 * Posts a streamed chat completion over a plain socket and records every byte of the answer. With `leave`,
 * the client goes away after reading that many completion events (0: right after the response head).
 */
function streamOverWire(baseUrl: string, key: string, body: unknown, leave: Leave | null): Promise<WireResult> {
  const { hostname, port } = new URL(baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const result: WireResult = { status: 0, requestId: '', received: [], readWhenLeft: null, errors: [], done: false };
    let head = Buffer.alloc(0);
    let headDone = false;
    let text = '';
    const dechunk = new Dechunker();
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`stream ${result.requestId || '(no head)'} did not end within 30 s`));
    }, 30_000);

    const maybeLeave = () => {
      if (!leave || result.readWhenLeft !== null || result.received.length < leave.after) return;
      result.readWhenLeft = result.received.length;
      if (leave.how === 'reset') socket.resetAndDestroy();
      else socket.end();
    };
    const consume = () => {
      const events = text.split('\n\n');
      text = events.pop() ?? '';
      for (const event of events) {
        const data = event.replace(/^data: ?/, '');
        if (data === '[DONE]') {
          result.done = true;
          continue;
        }
        const parsed = JSON.parse(data) as { error?: { code?: unknown }; choices?: { delta?: { content?: string; reasoning_content?: string } }[] };
        if (parsed.error) result.errors.push(parsed.error);
        for (const c of parsed.choices ?? []) {
          const part = c.delta?.reasoning_content ?? c.delta?.content;
          if (part !== undefined) result.received.push(part);
        }
        if (result.readWhenLeft === null) maybeLeave();
      }
    };

    socket.on('data', (bytes: Buffer) => {
      if (!headDone) {
        head = Buffer.concat([head, bytes]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headDone = true;
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        result.status = Number(lines[0]?.split(' ')[1]);
        result.requestId = lines.find((l) => l.toLowerCase().startsWith('x-request-id:'))?.slice(13).trim() ?? '';
        bytes = head.subarray(end + 4);
        maybeLeave();
        if (socket.destroyed) return;
      }
      text += dechunk.push(bytes);
      consume();
    });
    socket.on('error', () => undefined); // a reset we sent ourselves, or the gateway's after it
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(result);
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: Bearer ${key}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`,
    );
  });
}

/** Runs `count` jobs, at most `width` at a time. */
async function bounded<T>(count: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

describe('metering under faults', function () {
  this.timeout(120_000);

  const STREAMS = 1_000;
  const CONCURRENCY = 50;
  const ANSWER = 24;
  const REASONING = 2;
  const SEED = 20_260_801;

  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;
  let account: Account;

  before(async function () {
    stack = await startStack({ env: { UPSTREAM_PROVIDER: 'glm' } });
    services = await domain(stack);
    account = await provision(services, { rpm: 1_000_000, dailyTokens: 100_000_000 });
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  it('1,000 streams with clients leaving and upstream resets: one usage record per upstream request, billed as delivered', async function () {
    const random = seeded(SEED);
    const plans = Array.from({ length: STREAMS }, () => {
      const leave: Leave | null = random() < 0.2 ? { after: Math.floor(random() * (ANSWER + REASONING + 1)), how: random() < 0.5 ? 'half-close' : 'reset' } : null;
      const resetAfter = random() < 0.05 ? 1 + Math.floor(random() * (ANSWER + REASONING - 1)) : undefined;
      return { leave, resetAfter };
    });

    const started = performance.now();
    const results = await bounded(STREAMS, CONCURRENCY, (i) =>
      streamOverWire(
        stack.servers[0]!.url,
        account.secret,
        {
          model: 'glm-4.6',
          stream: true,
          messages: [{ role: 'user', content: `stream number ${i}` }],
          fake: { chunks: ANSWER, reasoning: REASONING, delayMs: 2, ...(plans[i]!.resetAfter === undefined ? {} : { resetAfter: plans[i]!.resetAfter }) },
        },
        plans[i]!.leave,
      ),
    );
    const elapsed = Math.round(performance.now() - started);

    const upstream = stack.upstream.requests.filter((r) => r.path.endsWith('/chat/completions'));
    const rows = await usageRows(stack.db, account.userId, upstream.length, 20_000);
    const byId = new Map(rows.map((r) => [r._id, r]));

    // Every request that reached the upstream has exactly one record, and no record lacks an upstream request.
    assert.equal(upstream.length, STREAMS, 'every stream reached the upstream');
    assert.ok(upstream.every((r) => r.requestId), 'the gateway tells the upstream its request id');
    assert.deepEqual(new Set(upstream.map((r) => r.requestId)), new Set(byId.keys()), 'usage records match upstream requests one to one');
    assert.equal(rows.length, upstream.length, 'no request has two records');

    const sent = new Map(upstream.map((r) => [r.requestId, r.sentTokens]));
    const problems: string[] = [];
    const tally = { completed: 0, upstreamResets: 0, leftHalfClose: 0, leftReset: 0, leftAfterEnd: 0 };
    results.forEach((res, i) => {
      const row: StoredUsage | undefined = byId.get(res.requestId);
      const plan = plans[i]!;
      if (res.status !== 200 || !row) return problems.push(`#${i}: status ${res.status}, record ${row ? 'found' : 'missing'}`);
      const received = countTokens(res.received);
      const sentTokens = sent.get(res.requestId) ?? 0;
      const left = res.readWhenLeft !== null;
      if (row.completionTokens > sentTokens) problems.push(`#${i}: billed ${row.completionTokens} > ${sentTokens} sent by the upstream`);
      if (left && plan.leave?.how === 'reset') {
        tally.leftReset += 1;
        if (row.completionTokens < received) problems.push(`#${i} (reset after ${res.readWhenLeft}): billed ${row.completionTokens} < ${received} read`);
      } else if (row.completionTokens !== received) {
        problems.push(`#${i} (${left ? `half-closed after ${res.readWhenLeft}` : 'read to the end'}): billed ${row.completionTokens} != ${received} delivered`);
      } else if (left) {
        tally.leftHalfClose += 1;
      }
      if (!left && plan.leave) tally.leftAfterEnd += 1; // its leaving point was past where the stream ended
      if (row.aborted !== (row.status === 499)) problems.push(`#${i}: aborted ${row.aborted} with status ${row.status}`);
      if (!left && res.errors.length === 0) {
        tally.completed += 1;
        if (!res.done || row.status !== 200 || row.estimated || received !== ANSWER + REASONING) problems.push(`#${i}: a clean stream was metered ${JSON.stringify(row)}`);
      }
      if (!left && res.errors.length > 0) {
        tally.upstreamResets += 1;
        if (plan.resetAfter === undefined || res.errors.length !== 1 || res.errors[0]?.code !== 'upstream_unreachable' || row.status !== 502 || !row.estimated) {
          problems.push(`#${i}: an upstream reset was relayed or metered wrongly: ${JSON.stringify({ errors: res.errors, row })}`);
        }
      }
      return undefined;
    });
    assert.deepEqual(problems, [], `${problems.length} of ${STREAMS} streams billed wrongly`);
    // The seed is fixed, so these are too; they show each kind of fault really happened.
    assert.ok(tally.leftHalfClose > 50 && tally.leftReset > 50 && tally.upstreamResets > 20, JSON.stringify(tally));

    const total = rows.reduce((n, r) => n + r.totalTokens, 0);
    const totals = await waitFor(() => dailyTotals(stack.db, account.userId), (t) => t.requests >= STREAMS);
    assert.deepEqual(totals, { requests: STREAMS, totalTokens: total }, 'the daily rollup equals the sum of the events');

    // The figures the README quotes, shown beside the test's name.
    this.test!.title += ` [${STREAMS} streams in ${elapsed} ms, ${CONCURRENCY} at a time: ${JSON.stringify(tally)}; records lost: 0]`;
  });
});

describe('shutdown with a stream that never ends', function () {
  this.timeout(60_000);

  it('on SIGTERM waits out the grace period, cuts the stream, bills what it delivered, and exits 0', async () => {
    const stack = await startStack({ env: { SHUTDOWN_GRACE_MS: '1000', UPSTREAM_IDLE_TIMEOUT_MS: '600000' } });
    const services = await domain(stack);
    try {
      const a = await provision(services);
      const reading = streamOverWire(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'hang' }], fake: { chunks: 20, stallAfter: 5 } }, null);
      await waitFor(async () => stack.upstream.requests.at(-1)?.sentTokens ?? 0, (n) => n >= 5);
      await new Promise((r) => setTimeout(r, 100));
      const stopping = performance.now();
      const code = await stack.servers[0]!.stop('SIGTERM');
      const tookMs = performance.now() - stopping;
      const res = await reading;
      assert.equal(code, 0);
      assert.ok(tookMs < 20_000, `shutdown took ${Math.round(tookMs)} ms: it waited for a stream that never ends`);
      assert.equal(res.received.length, 5);
      assert.equal(res.done, false, 'the stream was cut, not finished');
      const [row] = await usageRows(stack.db, a.userId, 1, 2_000);
      assert.deepEqual({ c: row?.completionTokens, aborted: row?.aborted, est: row?.estimated }, { c: countTokens(res.received), aborted: true, est: true });
    } finally {
      await services.close();
      await stack.close();
    }
  });
});
