import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { domain, provision, type Account } from '../harness/accounts';
import { chat, readSse } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { startTestDatabase, type TestDatabase } from '../harness/database';
import { dailyTotals, usageRows } from '../harness/usage';
import { expectOpenAIError, waitFor } from './expect';

const hi = [{ role: 'user', content: 'hi' }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every chat request the upstream saw has exactly one usage record in the stack's database, and no more. */
async function assertOneRecordPerUpstreamRequest(stack: Stack): Promise<number> {
  const ids = stack.upstream.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.requestId);
  const stored = await waitFor(
    () => stack.db.collection('usage_events').find({}, { projection: { _id: 1 } }).toArray(),
    (rows) => rows.length >= ids.length,
    15_000,
    100,
  );
  assert.deepEqual(new Set(stored.map((r) => String(r._id))), new Set(ids), 'usage records match upstream requests one to one');
  assert.equal(stored.length, ids.length);
  return ids.length;
}

/** The daily rollup of a user equals the sum of their events, once every event is in. */
async function assertRollupMatchesEvents(stack: Stack, userId: string, requests: number): Promise<void> {
  const rows = await usageRows(stack.db, userId, requests, 15_000);
  assert.equal(rows.length, requests);
  const totals = await waitFor(() => dailyTotals(stack.db, userId), (t) => t.requests >= requests, 15_000, 100);
  await sleep(300); // a rollup counted twice would show up a flush later
  assert.deepEqual(await dailyTotals(stack.db, userId), totals);
  assert.deepEqual(totals, { requests, totalTokens: rows.reduce((n, r) => n + r.totalTokens, 0) });
}

describe('database outage', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;

  before(async function () {
    // The run's shared database serves every suite at once: this suite stops one of its own.
    database = await startTestDatabase();
    if (!database.outage) {
      await database.stop();
      this.skip(); // MONGODB_URI points at a server this suite cannot stop
    }
    stack = await startStack({ database, env: { USAGE_BUFFER_MAX: '100' } });
    services = await domain(stack);
  });
  after(async () => {
    await database?.outage?.start();
    await services?.close();
    await stack?.close();
    await database?.stop();
  });

  const url = () => stack.servers[0]!.url;
  const longStream = (a: Account, chunks: number) =>
    chat(url(), a.secret, { model: 'glm-4.6', stream: true, messages: hi, fake: { chunks, delayMs: 25 } }).then(async (res) => ({ status: res.status, ...(await readSse(res)) }));

  it('while the database is down: new keys get a quick 503, running streams finish, and service and metering resume by themselves', async function () {
    const streamer = await provision(services, { rpm: 100_000, dailyTokens: 10_000_000 });
    const newcomer = await provision(services, { rpm: 100_000, dailyTokens: 10_000_000 });
    assert.equal((await chat(url(), streamer.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    const streams = Array.from({ length: 20 }, () => longStream(streamer, 40));
    await sleep(300);
    await database.outage!.kill();

    // A key this instance has not seen needs the database: refused at once, in the API's shape.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const res = await chat(url(), newcomer.secret, { model: 'glm-4.6', messages: hi });
      waits.push(Math.round(performance.now() - t));
      assert.match(await expectOpenAIError(res, 503, 'service_unavailable'), /database/);
      assert.ok(res.headers.get('retry-after'), 'says when to retry');
    }
    assert.ok(Math.max(...waits) < 5_000, `a refusal took ${Math.max(...waits)} ms`);
    const health = await fetch(`${url()}/api/health`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { database: string }).database, 'down');

    // Streams already running do not need the database: they run to their end.
    for (const s of await Promise.all(streams)) {
      assert.equal(s.status, 200);
      assert.equal(s.events.at(-1), '[DONE]');
      assert.equal(s.events.length, 41);
    }
    await sleep(500); // several failed flushes: the records wait in the buffer

    await database.outage!.start();
    const restarted = performance.now();
    const back = await waitFor(
      () => chat(url(), newcomer.secret, { model: 'glm-4.6', messages: hi }).then(async (r) => (await r.text(), r.status)),
      (status) => status === 200,
      30_000,
      200,
    );
    assert.equal(back, 200, 'service resumed without a restart');
    const recoveredMs = Math.round(performance.now() - restarted);

    await assertOneRecordPerUpstreamRequest(stack);
    await assertRollupMatchesEvents(stack, streamer.userId, 21);
    const rows = await usageRows(stack.db, streamer.userId, 21);
    assert.ok(rows.filter((r) => r.stream).every((r) => r.completionTokens === 40 && !r.estimated && r.status === 200));
    assert.equal((await fetch(`${url()}/api/health`)).status, 200);
    this.test!.title += ` [refusals took ${waits.join(', ')} ms; service back ${recoveredMs} ms after the database]`;
  });

  it('while the database is down, a request that needs more of its key\'s rate limit gets 503, not a pass the limit never booked', async () => {
    // RPM 20: every request claims a slice of one request, from the database.
    const a = await provision(services, { rpm: 20, dailyTokens: 10_000_000 });
    assert.equal((await chat(url(), a.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    const seenBefore = stack.upstream.requests.length;
    await database.outage!.kill();
    try {
      const res = await chat(url(), a.secret, { model: 'glm-4.6', messages: hi });
      assert.match(await expectOpenAIError(res, 503, 'service_unavailable'), /database/);
      assert.equal(stack.upstream.requests.length, seenBefore, 'nothing reached the upstream');
    } finally {
      await database.outage!.start();
    }
  });

  it('a full usage buffer refuses new requests with 503 rather than dropping records, until the database takes them', async () => {
    const heavy = await provision(services, { rpm: 100_000, dailyTokens: 10_000_000 });
    assert.equal((await chat(url(), heavy.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    // More streams than the buffer holds (USAGE_BUFFER_MAX=100) are running when the database goes.
    const streams = Array.from({ length: 110 }, () => longStream(heavy, 30));
    await sleep(300);
    await database.outage!.kill();
    for (const s of await Promise.all(streams)) assert.equal(s.events.at(-1), '[DONE]');

    // The key is known here, so only the full buffer stands in the way; nothing goes upstream unrecorded.
    const seenBefore = stack.upstream.requests.length;
    const res = await chat(url(), heavy.secret, { model: 'glm-4.6', messages: hi });
    assert.match(await expectOpenAIError(res, 503, 'service_unavailable'), /record usage/);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(stack.upstream.requests.length, seenBefore, 'a refused request never reaches the upstream');
    const log = await waitFor(async () => stack.servers[0]!.output(), (out) => out.includes('usage buffer full'), 2_000);
    assert.match(log, /usage buffer full/, 'the operator is told why');

    await database.outage!.start();
    const back = await waitFor(
      () => chat(url(), heavy.secret, { model: 'glm-4.6', messages: hi }).then(async (r) => (await r.text(), r.status)),
      (status) => status === 200,
      30_000,
      200,
    );
    assert.equal(back, 200, 'accepting again once the buffer was written');
    await assertOneRecordPerUpstreamRequest(stack);
    await assertRollupMatchesEvents(stack, heavy.userId, 112);
  });
});

/**
 * A TCP hop in front of the database that can lose one reply: the command reaches the database and is
 * applied, but the gateway's connection drops before it hears so, as when a network or a server dies at the
 * wrong moment. Nothing is mocked: the driver and the database see a real broken connection.
 */
async function startReplyLosingProxy(target: URL): Promise<{ uri: string; loseReplyTo(marker: string): Promise<void>; close(): Promise<void> }> {
  let armed: { marker: Buffer; fired: () => void } | null = null;
  const pairs = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    pairs.add(client).add(upstream);
    let doomed = false;
    client.on('data', (bytes: Buffer) => {
      if (armed && bytes.includes(armed.marker)) {
        doomed = true;
        const { fired } = armed;
        armed = null;
        upstream.once('data', () => {
          client.destroy();
          upstream.destroy();
          fired();
        });
      }
      upstream.write(bytes);
    });
    upstream.on('data', (bytes: Buffer) => {
      if (!doomed) client.write(bytes);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(client);
      pairs.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    loseReplyTo: (marker) => new Promise<void>((fired) => (armed = { marker: Buffer.from(marker), fired })),
    close: () =>
      new Promise<void>((r) => {
        for (const s of pairs) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('database replies lost in transit', function () {
  this.timeout(60_000);

  it('a usage write the database applied but never confirmed is retried and counted once', async () => {
    const stack = await startStack({ instances: 0 });
    const target = new URL(stack.mongoUri);
    const proxy = await startReplyLosingProxy(target);
    const services = await domain(stack);
    try {
      const server = await stack.addServer({ MONGODB_URI: `${proxy.uri}${target.pathname.slice(1)}` });
      const a = await provision(services, { rpm: 100_000 });
      const ask = async () => (await chat(server.url, a.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 5 } })).text();
      await ask();
      await usageRows(stack.db, a.userId, 1);

      // The raw events, then the daily rollup: each loses its reply once.
      for (const [n, collection] of [[3, 'usage_events'], [6, 'usage_daily']] as const) {
        const lost = proxy.loseReplyTo(collection);
        await Promise.all([ask(), ask(), ask()]);
        await Promise.race([lost, sleep(10_000).then(() => assert.fail(`no write to ${collection} went through the proxy`))]);
        await usageRows(stack.db, a.userId, n + 1, 15_000);
      }
      await assertOneRecordPerUpstreamRequest(stack);
      await assertRollupMatchesEvents(stack, a.userId, 7);
    } finally {
      await services.close();
      await stack.close();
      await proxy.close();
    }
  });
});
