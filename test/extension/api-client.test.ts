import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApiClient, ApiError } from '../../extension/src/api/api-client';
import { sseData } from '../../extension/src/api/sse';
import { createPkce } from '../../extension/src/auth/pkce';
import { domain, provision, type Account } from '../harness/accounts';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';

describe('extension API client and sign-in exchange, against the real server', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let account: Account;
  let url: string;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: clerk.env });
    url = stack.servers[0]!.url;
    const services = await domain(stack);
    account = await provision(services, { rpm: 5 });
    await services.close();
  });
  after(async () => stack?.close());

  const client = (key: string | undefined) => new ApiClient(() => url, async () => key);

  /** The browser half of sign-in: a signed-in person approves the request on the website. */
  async function approve(requestId: string, clerkId: string): Promise<URL> {
    const token = await clerk.sessionToken(clerkId, { azp: url });
    const res = await fetch(`${url}/api/extension/connect-requests/${requestId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, await res.clone().text());
    return new URL(((await res.json()) as { redirectTo: string }).redirectTo);
  }

  it('streams an answer as content and reasoning deltas', async () => {
    const deltas = [];
    for await (const d of client(account.secret).chat('glm-4.6', [{ role: 'user', content: 'hi' }], new AbortController().signal)) deltas.push(d);
    assert.equal(deltas.map((d) => d.content).join(''), ' tok tok tok');
  });

  it('lists models and reports today against the quota', async () => {
    assert.deepEqual((await client(account.secret).models()).sort(), ['glm-4.5-air', 'glm-4.6', 'glm-5']);
    const me = await client(account.secret).me();
    assert.equal(me.key.id, account.keyId);
    assert.equal(me.today.limit, 1_000_000);
  });

  it('turns 401 and 429 into errors a person can act on', async () => {
    await assert.rejects(client('glmgw_revokedOrUnknownKey0000000000000').models(), (e: unknown) => e instanceof ApiError && e.kind === 'auth');
    await assert.rejects(client(undefined).models(), (e: unknown) => e instanceof ApiError && e.kind === 'auth');
    let limited: ApiError | undefined;
    for (let i = 0; i < 8 && !limited; i++) {
      try {
        for await (const d of client(account.secret).chat('glm-4.6', [{ role: 'user', content: 'hi' }], new AbortController().signal)) void d;
      } catch (err) {
        limited = err as ApiError;
      }
    }
    assert.equal(limited?.kind, 'rate_limit');
    assert.ok((limited?.retryAfterSec ?? 0) > 0);
  });

  it('parses SSE split at any byte, including inside a multi-byte character', async () => {
    const text = 'data: {"a":"héllo"}\n\ndata: second\r\n\r\n';
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const out: string[] = [];
    for await (const d of sseData(body)) out.push(d);
    assert.deepEqual(out, ['{"a":"héllo"}', 'second']);
  });

  it('signs in: register, approve, exchange code + verifier for a working key named after the device', async () => {
    const pkce = createPkce();
    assert.equal(pkce.challenge, createHash('sha256').update(pkce.verifier).digest('base64url'));
    const api = client(undefined);
    const registered = await api.registerSignIn({ redirectUri: 'vscode://glm-gateway.glm-gateway-vscode/callback', state: pkce.state, codeChallenge: pkce.challenge, codeChallengeMethod: 'S256', deviceName: 'Visual Studio Code on test-box' });
    assert.match(registered.connectUrl, /\/extension\/connect\?request=cnr_/);
    const back = await approve(registered.requestId, `user_ext${Date.now()}`);
    assert.equal(back.protocol, 'vscode:');
    assert.equal(back.searchParams.get('state'), pkce.state);
    const token = await api.exchangeCode(back.searchParams.get('code')!, pkce.verifier);
    assert.equal(token.key.name, 'VS Code on Visual Studio Code on test-box');
    assert.equal((await client(token.secret).me()).key.id, token.key.id);
    // The code is single-use.
    await assert.rejects(api.exchangeCode(back.searchParams.get('code')!, pkce.verifier), (e: unknown) => e instanceof ApiError && e.status === 400);
  });

  it('a wrong verifier gets 400 and no key; the code is spent', async () => {
    const pkce = createPkce();
    const api = client(undefined);
    const { requestId } = await api.registerSignIn({ redirectUri: 'vscode://glm-gateway.glm-gateway-vscode/callback', state: pkce.state, codeChallenge: pkce.challenge, codeChallengeMethod: 'S256', deviceName: 'box' });
    const clerkId = `user_ext_wrong${Date.now()}`;
    const code = (await approve(requestId, clerkId)).searchParams.get('code')!;
    await assert.rejects(api.exchangeCode(code, createPkce().verifier), (e: unknown) => e instanceof ApiError && e.status === 400 && /verifier/.test(e.message));
    await assert.rejects(api.exchangeCode(code, pkce.verifier), (e: unknown) => e instanceof ApiError && e.status === 400);
    const user = await stack.db.collection('users').findOne({ clerkId });
    assert.equal(await stack.db.collection('api_keys').countDocuments({ userId: user!._id, name: /^VS Code/ }), 0);
  });

  it('puts code and state inside vscode-query for a code-server callback', async () => {
    const pkce = createPkce();
    const api = client(undefined);
    const redirectUri = 'http://127.0.0.1:8080/stable-abc/callback?vscode-reqid=1&vscode-scheme=code-oss&vscode-authority=glm-gateway.glm-gateway-vscode&vscode-path=%2Fcallback';
    const { requestId } = await api.registerSignIn({ redirectUri, state: pkce.state, codeChallenge: pkce.challenge, codeChallengeMethod: 'S256', deviceName: 'browser' });
    const back = await approve(requestId, `user_ext_cs${Date.now()}`);
    assert.equal(back.searchParams.get('code'), null);
    const inner = new URLSearchParams(back.searchParams.get('vscode-query') ?? '');
    assert.equal(inner.get('state'), pkce.state);
    assert.ok((inner.get('code') ?? '').length >= 40);
    assert.equal(back.searchParams.get('vscode-authority'), 'glm-gateway.glm-gateway-vscode');
  });

  it('sign out revokes the extension key on the server', async () => {
    const services = await domain(stack);
    const a = await provision(services);
    await services.close();
    await client(a.secret).revokeOwnKey();
    await assert.rejects(client(a.secret).me(), (e: unknown) => e instanceof ApiError && e.kind === 'auth');
  });
});
