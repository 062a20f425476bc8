import assert from 'node:assert/strict';
import { chatCompletionChunkSchema, chatCompletionSchema, modelListSchema, openAIErrorSchema } from '@glm-gateway/shared';
import { domain, provision, type Account } from '../harness/accounts';
import { startStack, type Stack } from '../harness/context';
import { chat, parseEvents, readSse } from '../harness/client';
import { usageRows } from '../harness/usage';

describe('gateway relay', function () {
  let stack: Stack;
  let account: Account;

  before(async function () {
    this.timeout(60_000);
    stack = await startStack();
    const services = await domain(stack);
    account = await provision(services);
    await services.close();
  });
  after(async () => stack?.close());

  it('answers a non-streamed chat completion with the upstream answer and its usage', async () => {
    const res = await chat(stack.servers[0]!.url, account.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'say three words' }], fake: { chunks: 3 } });
    assert.equal(res.status, 200);
    const body = chatCompletionSchema.parse(await res.json());
    assert.equal(body.choices[0]?.message.content, ' tok tok tok');
    assert.deepEqual(body.usage && { p: body.usage.prompt_tokens, c: body.usage.completion_tokens }, { p: 3, c: 3 });
    assert.match(res.headers.get('x-request-id') ?? '', /^req_/);
  });

  it('relays 300 streams at once without queueing any of them behind the others', async function () {
    this.timeout(60_000);
    const services = await domain(stack);
    const busy = await provision(services, { rpm: 1_000, dailyTokens: 1_000_000_000 });
    await services.close();
    // Each stream sends one chunk and then stalls, holding its upstream connection: with too small an
    // upstream pool the streams past its size would never start.
    const aborts = Array.from({ length: 300 }, () => new AbortController());
    const firsts = await Promise.all(
      aborts.map(async (abort) => {
        const res = await chat(stack.servers[0]!.url, busy.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'wait' }], fake: { chunks: 3, stallAfter: 1 } }, '/v1', {}, abort.signal);
        // Read the first chunk and keep the stream open (reading on to the end would wait for the stall).
        const { value } = await res.body!.getReader().read();
        return parseEvents(new TextDecoder().decode(value))[0];
      }),
    );
    assert.equal(stack.upstream.activeResponses(), 300, 'all 300 answers are open upstream at once');
    aborts.forEach((a) => a.abort());
    assert.equal(firsts.filter((e) => e && chatCompletionChunkSchema.parse(JSON.parse(e)).choices[0]?.delta?.content === ' tok').length, 300);
  });

  it('streams chunks as they arrive, in order, ending with [DONE]', async () => {
    const res = await chat(stack.servers[0]!.url, account.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'count' }], fake: { chunks: 5, delayMs: 20 } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const { events, arrivals } = await readSse(res);
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => chatCompletionChunkSchema.parse(JSON.parse(e)));
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), ' tok tok tok tok tok');
    // Relayed as produced, not buffered: the first chunk arrives well before the last one was sent.
    assert.ok(arrivals.at(-1)! - arrivals[0]! >= 60, `chunks arrived within ${arrivals.at(-1)! - arrivals[0]!} ms of each other`);
  });

  it('relays a stream the network cut anywhere (CRLF lines, characters split between packets) byte for byte, metered exactly', async () => {
    const services = await domain(stack);
    const fresh = await provision(services);
    await services.close();
    const text = ' é😀中';
    const res = await chat(stack.servers[0]!.url, fresh.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'unicode please' }], fake: { chunks: 12, text, crlf: true, pieceBytes: 3 } });
    assert.equal(res.status, 200);
    const events = (await res.text()).split('\r\n\r\n');
    assert.equal(events.pop(), '', 'the stream ends with a whole event');
    assert.equal(events.length, 13, 'twelve chunks and [DONE], each with its CRLF separator');
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => chatCompletionChunkSchema.parse(JSON.parse(e.slice('data: '.length))));
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), text.repeat(12));
    const [row] = await usageRows(stack.db, fresh.userId, 1);
    assert.deepEqual(row && { c: row.completionTokens, estimated: row.estimated }, { c: 12, estimated: false });
  });

  it('relays events of 12 MB that arrive in 16 KB pieces byte for byte, metered exactly', async function () {
    this.timeout(60_000);
    const services = await domain(stack);
    const fresh = await provision(services);
    await services.close();
    const padding = 12 * 1024 * 1024;
    const res = await chat(stack.servers[0]!.url, fresh.secret, { model: 'glm-4.6', stream: true, messages: [{ role: 'user', content: 'a long one' }], fake: { chunks: 2, padding, pieceBytes: 16 * 1024 } });
    assert.equal(res.status, 200);
    const events = (await res.text()).split('\n\n');
    assert.equal(events.pop(), '', 'the stream ends with a whole event');
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as { padding?: string; choices: { delta: { content?: string } }[] });
    assert.deepEqual(chunks.map((c) => c.padding?.length), [padding, padding], 'both padded events arrived whole');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), ' tok tok');
    const [row] = await usageRows(stack.db, fresh.userId, 1);
    assert.deepEqual(row && { c: row.completionTokens, estimated: row.estimated }, { c: 2, estimated: false });
  });

  it('passes fields it does not model through untouched, both ways', async () => {
    const res = await chat(stack.servers[0]!.url, account.secret, {
      model: 'glm-4.6',
      stream: true,
      thinking: { type: 'enabled' },
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      messages: [{ role: 'user', content: 'think first', name: 'dev' }],
      fake: { chunks: 2, reasoning: 2 },
    });
    const { events } = await readSse(res);
    const seen = stack.upstream.requests.at(-1)!;
    assert.deepEqual(seen.body.thinking, { type: 'enabled' });
    assert.equal((seen.body.tools as unknown[]).length, 1);
    assert.equal((seen.body.messages as { name?: string }[])[0]?.name, 'dev');
    const reasoning = events.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta: { reasoning_content?: string } }[] }).choices[0]?.delta.reasoning_content ?? '').join('');
    assert.equal(reasoning, ' tok tok');
  });

  it('serves the same API under /api/v1 for clients that expect that prefix', async () => {
    const res = await chat(stack.servers[0]!.url, account.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] }, '/api/v1');
    assert.equal(res.status, 200);
  });

  it('lists the models clients may use', async () => {
    const res = await fetch(`${stack.servers[0]!.url}/v1/models`, { headers: { authorization: `Bearer ${account.secret}` } });
    assert.equal(res.status, 200);
    const list = modelListSchema.parse(await res.json());
    assert.deepEqual(list.data.map((m) => m.id).sort(), ['glm-4.5-air', 'glm-4.6', 'glm-5']);
  });

  it('ignores any upstream URL or credential the caller supplies, and never shows the real one', async () => {
    const before = stack.upstream.requests.length;
    const res = await chat(
      stack.servers[0]!.url,
      account.secret,
      { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }], api_key: 'sk-evil', api_base: 'http://127.0.0.9:1/steal', base_url: 'http://127.0.0.9:1' },
      '/v1',
      { 'x-api-key': 'sk-evil', 'x-upstream-url': 'http://127.0.0.9:1' },
    );
    const text = await res.text();
    assert.equal(res.status, 200);
    const seen = stack.upstream.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers.authorization, `Bearer ${stack.upstream.apiKey}`);
    for (const field of ['api_key', 'api_base', 'base_url']) assert.ok(!(field in seen[0]!.body), `${field} was forwarded`);
    assert.ok(!text.includes(stack.upstream.apiKey));
  });

  it('keeps the upstream key and address out of error answers and log lines', async () => {
    const res = await chat(stack.servers[0]!.url, account.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }], fake: { status: 400, code: '1214' } });
    const body = openAIErrorSchema.parse(await res.json());
    assert.equal(res.status, 400);
    for (const secret of [stack.upstream.apiKey, stack.upstream.url, 'acct_9f8e7d6c5b4a39281706', account.secret]) {
      assert.ok(!JSON.stringify(body).includes(secret), `error body leaks ${secret}`);
      assert.ok(!stack.servers[0]!.output().includes(secret), `server log leaks ${secret}`);
    }
  });
});
