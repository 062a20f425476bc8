import assert from 'node:assert/strict';
import { request } from 'node:http';
import { openAIErrorSchema } from '@glm-gateway/shared';
import { domain, provision, type Account } from '../harness/accounts';
import { chat, readSse } from '../harness/client';
import { startStack, type Stack } from '../harness/context';
import { freePort } from '../harness/ports';
import { startServer } from '../harness/server';
import { usageRows } from '../harness/usage';

async function expectError(res: Response, status: number, code: string): Promise<string> {
  const body = openAIErrorSchema.parse(await res.json());
  assert.equal(res.status, status, `status for ${code}: ${body.error.message}`);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10, 'the message says what went wrong');
  return body.error.message;
}

describe('gateway errors', function () {
  let stack: Stack;
  let services: Awaited<ReturnType<typeof domain>>;
  let a: Account;
  const hi = [{ role: 'user', content: 'hi' }];

  before(async function () {
    this.timeout(60_000);
    stack = await startStack({ env: { MAX_REQUEST_BYTES: '65536', UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '400' } });
    services = await domain(stack);
    a = await provision(services);
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });
  const url = () => stack.servers[0]!.url;

  describe('authentication', () => {
    it('a request without a key gets 401', async () => {
      await expectError(await chat(url(), null, { model: 'glm-4.6', messages: hi }), 401, 'missing_api_key');
    });
    it('a made-up key gets 401', async () => {
      await expectError(await chat(url(), 'glmgw_notARealKeyButTheRightLength12', { model: 'glm-4.6', messages: hi }), 401, 'invalid_api_key');
      await expectError(await chat(url(), 'sk-something-else', { model: 'glm-4.6', messages: hi }), 401, 'invalid_api_key');
    });
    it('a revoked key gets 401 at once, even right after it was used', async () => {
      const b = await provision(services);
      assert.equal((await chat(url(), b.secret, { model: 'glm-4.6', messages: hi })).status, 200);
      await services.keys.revoke(b.keyId);
      await new Promise((r) => setTimeout(r, 400)); // one invalidation poll (200 ms here) reaches the server process
      const msg = await expectError(await chat(url(), b.secret, { model: 'glm-4.6', messages: hi }), 401, 'invalid_api_key');
      assert.match(msg, /revoked/);
    });
    it('an expired key gets 401', async () => {
      const { secret } = await services.keys.issue(a.userId, 'short-lived', new Date(Date.now() + 300));
      await new Promise((r) => setTimeout(r, 400));
      assert.match(await expectError(await chat(url(), secret, { model: 'glm-4.6', messages: hi }), 401, 'invalid_api_key'), /expired/);
    });
    it('a suspended user gets 403, and is let back in when unsuspended', async () => {
      const c = await provision(services);
      await services.users.setStatus(c.userId, 'suspended');
      await new Promise((r) => setTimeout(r, 400));
      await expectError(await chat(url(), c.secret, { model: 'glm-4.6', messages: hi }), 403, 'account_suspended');
      await services.users.setStatus(c.userId, 'active');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await chat(url(), c.secret, { model: 'glm-4.6', messages: hi })).status, 200);
    });
  });

  describe('bad requests', () => {
    it('malformed JSON gets 400 invalid_json', async () => {
      await expectError(await chat(url(), a.secret, '{"model": "glm-4.6", "messages": ['), 400, 'invalid_json');
    });
    it('missing or mistyped fields get 400 naming the field', async () => {
      assert.match(await expectError(await chat(url(), a.secret, { messages: hi }), 400, 'invalid_request'), /model/);
      assert.match(await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: [] }), 400, 'invalid_request'), /messages/);
      assert.match(await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: hi, stream: 'yes' }), 400, 'invalid_request'), /stream/);
      assert.match(await expectError(await chat(url(), a.secret, { model: 'glm\r\nx-injected: 1', messages: hi }), 400, 'invalid_request'), /model/);
    });
    it('a body over the configured size gets 413', async () => {
      await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }), 413, 'request_too_large');
    });
    it('a non-JSON content type gets 415', async () => {
      await expectError(await chat(url(), a.secret, 'model=glm-4.6', '/v1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    });
    it('an unknown model gets 404 model_not_found', async () => {
      await expectError(await chat(url(), a.secret, { model: 'gpt-99', messages: hi }), 404, 'model_not_found');
    });
    it('an unknown path and a wrong method get OpenAI-shaped 404 and 405', async () => {
      await expectError(await fetch(`${url()}/v1/embeddingz`, { headers: { authorization: `Bearer ${a.secret}` } }), 404, 'not_found');
      await expectError(await fetch(`${url()}/v1/chat/completions`, { headers: { authorization: `Bearer ${a.secret}` } }), 405, 'method_not_allowed');
    });
  });

  describe('upstream failures', () => {
    it('an upstream 429 is passed on with Retry-After', async () => {
      const res = await chat(url(), a.secret, { model: 'glm-4.6', messages: hi, fake: { status: 429, code: '1302', retryAfter: 7 } });
      assert.equal(res.headers.get('retry-after'), '7');
      await expectError(res, 429, 'upstream_rate_limited');
    });
    it('an upstream "unknown model" becomes 404, an upstream 400 keeps its meaning', async () => {
      await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: hi, fake: { status: 400, code: '1211' } }), 404, 'model_not_found');
      await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: hi, fake: { status: 400, code: '1214' } }), 400, 'invalid_request');
    });
    it('an upstream 500 becomes 502, and is recorded without tokens', async () => {
      const d = await provision(services);
      await expectError(await chat(url(), d.secret, { model: 'glm-4.6', messages: hi, fake: { status: 500 } }), 502, 'upstream_error');
      const [row] = await usageRows(stack.db, d.userId, 1);
      assert.deepEqual({ status: row?.status, t: row?.totalTokens }, { status: 502, t: 0 });
    });
    it('an upstream that answers too slowly gets 504', async () => {
      await expectError(await chat(url(), a.secret, { model: 'glm-4.6', messages: hi, fake: { stallBeforeMs: 1_500 } }), 504, 'upstream_timeout');
    });
    it('a connection reset mid-stream ends the stream with one OpenAI-shaped error event', async () => {
      const res = await chat(url(), a.secret, { model: 'glm-4.6', stream: true, messages: hi, fake: { chunks: 10, resetAfter: 4, delayMs: 5 } });
      assert.equal(res.status, 200);
      const { events } = await readSse(res);
      const parsed = events.map((e) => JSON.parse(e) as Record<string, unknown>);
      const errors = parsed.filter((e) => 'error' in e);
      assert.equal(errors.length, 1);
      assert.equal(parsed.length, 5, 'the four whole chunks, then the error');
      assert.equal(openAIErrorSchema.parse(errors[0]).error.code, 'upstream_unreachable');
    });
    it('a malformed stream ends with an error event instead of hanging', async () => {
      const { events } = await readSse(await chat(url(), a.secret, { model: 'glm-4.6', stream: true, messages: hi, fake: { chunks: 5, malformed: 2 } }));
      assert.equal(openAIErrorSchema.parse(JSON.parse(events.at(-1)!)).error.code, 'upstream_error');
    });
    it('an unreachable upstream gets 502, and the gateway stays healthy', async function () {
      this.timeout(60_000);
      const dead = await freePort();
      const server = await startServer({ MONGODB_URI: stack.mongoUri, UPSTREAM_BASE_URL: `http://127.0.0.1:${dead}/v4`, UPSTREAM_API_KEY: 'sk-x', MODELS: 'glm-4.6' });
      try {
        await expectError(await chat(server.url, a.secret, { model: 'glm-4.6', messages: hi }), 502, 'upstream_unreachable');
        assert.equal((await fetch(`${server.url}/api/health`)).status, 200);
        assert.ok(!server.output().includes(String(dead)), 'the upstream address is not logged');
      } finally {
        await server.stop();
      }
    });
  });

  it('an OpenAI-shaped 404 for a raw, header-less request (no 500 on odd input)', async () => {
    const status = await new Promise<number>((resolve) => {
      const u = new URL(url());
      const req = request({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-length': '0', authorization: `Bearer ${a.secret}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.end();
    });
    assert.equal(status, 400);
  });
});
