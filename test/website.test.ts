import assert from 'node:assert/strict';
import { openAIErrorSchema } from '@glm-gateway/shared';
import { domain, provision } from './harness/accounts';
import { chat } from './harness/client';
import { startStack, type Stack } from './harness/context';
import { startServer } from './harness/server';

describe('website without Clerk keys', function () {
  this.timeout(60_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => stack?.close());

  it('starts, and the home page says sign-in is not configured', async () => {
    const res = await fetch(stack.servers[0]!.url);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /Sign-in is not configured/);
    assert.match(html, new RegExp(`${stack.servers[0]!.url.replace(/\./g, '\\.')}/v1`));
  });

  it('reports health without revealing the upstream', async () => {
    const res = await fetch(`${stack.servers[0]!.url}/api/health`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(text), { status: 'ok', database: 'up', upstream: { configured: true, provider: 'glm' }, signIn: { configured: false } });
    assert.ok(!text.includes(stack.upstream.apiKey) && !text.includes(stack.upstream.url));
  });

  it('refuses to start with an invalid setting, naming it', async () => {
    await assert.rejects(startServer({ MONGODB_URI: stack.mongoUri, UPSTREAM_BASE_URL: 'not a url' }), /UPSTREAM_BASE_URL/);
  });

  it('without an upstream key, still starts and answers chat with a clear 503', async () => {
    const server = await startServer({ MONGODB_URI: stack.mongoUri });
    try {
      const health = (await (await fetch(`${server.url}/api/health`)).json()) as { status: string };
      assert.equal(health.status, 'degraded');
      const services = await domain(stack);
      const a = await provision(services);
      await services.close();
      const res = await chat(server.url, a.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 503);
      assert.match(openAIErrorSchema.parse(await res.json()).error.message, /no model provider configured/);
    } finally {
      await server.stop();
    }
  });
});
