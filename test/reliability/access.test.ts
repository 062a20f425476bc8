import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiErrorSchema, issuedKeySchema, keyListSchema, meSchema, openAIErrorSchema, revealedSecretSchema, tokenResponseSchema, usageReportSchema } from '@glm-gateway/shared';
import { generateKeyPair, SignJWT } from 'jose';
import type { Browser, BrowserContext } from 'playwright-core';
import { createPkce } from '../../extension/src/auth/pkce';
import { launchBrowser } from '../harness/browser';
import { clerkDeletedEvent, clerkUserEvent, createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

/** A response as the suite keeps it: read once, so every body can be searched for secrets at the end. */
interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = unknown>(): T;
}

const hi = [{ role: 'user', content: 'hi' }];
const ADMIN = 'user_access_admin';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('access: each caller reaches only what is theirs, and secrets stay secret', function () {
  this.timeout(120_000);
  let stack: Stack;
  let clerk: FakeClerk;
  const url = (i = 0) => stack.servers[i]!.url;

  /** Every answer the suite received; `issued` is the one secret that answer was meant to hand out. */
  const answers: { label: string; text: string; issued: string | null }[] = [];
  const gatewaySecrets = new Set<string>();
  const sessionTokens = new Set<string>();

  before(async function () {
    this.timeout(90_000);
    clerk = await createFakeClerk();
    stack = await startStack({ instances: 2, env: { ...clerk.env, ADMIN_USER_IDS: ADMIN } });
  });
  after(async () => stack?.close());

  /** Keeps an answer for the final search; `issues` marks the answer that hands out a new gateway key. */
  function remember(label: string, status: number, headers: Headers, text: string, issues: boolean): Answer {
    let issued: string | null = null;
    if (issues && status < 300) {
      issued = (JSON.parse(text) as { secret: string }).secret;
      gatewaySecrets.add(issued);
    }
    answers.push({ label, text: `${[...headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`, issued });
    return { status, headers, text, json: <T>() => JSON.parse(text) as T };
  }

  const keep = async (label: string, res: Response, issues = false) => remember(label, res.status, res.headers, await res.text(), issues);

  /** Any method, path and headers (Host included, which fetch will not send), exactly as written. */
  function raw(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
      const length = opts.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(opts.body)) };
      const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: { ...opts.headers, ...length } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve(remember(`${opts.method ?? 'GET'} ${path}`, res.statusCode ?? 0, headers, text, false));
        });
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  async function session(clerkId: string, i = 0, opts: Parameters<FakeClerk['sessionToken']>[1] = {}): Promise<string> {
    const token = await clerk.sessionToken(clerkId, { azp: url(i), ...opts });
    sessionTokens.add(token);
    return token;
  }

  let n = 0;
  /** Someone signed in through Clerk, calling the website API on instance `i` with a session for it. */
  async function person(clerkId = `user_acc${Date.now()}${n++}`) {
    const api = async (path: string, init: RequestInit & { i?: number; issues?: boolean } = {}) => {
      const { i = 0, issues = false, ...rest } = init;
      const headers = { authorization: `Bearer ${await session(clerkId, i)}`, 'content-type': 'application/json', ...(rest.headers as Record<string, string>) };
      return keep(`${rest.method ?? 'GET'} ${path} as ${clerkId}`, await fetch(`${url(i)}${path}`, { ...rest, headers }), issues);
    };
    const newKey = async (name: string, i = 0) => issuedKeySchema.parse((await api('/api/keys', { method: 'POST', body: JSON.stringify({ name }), issues: true, i })).json());
    const userId = async () => ((await stack.db.collection('users').findOne({ clerkId })) as { _id: string } | null)?._id;
    return { clerkId, api, newKey, userId };
  }

  async function gateway(secret: string, i = 0, path = '/v1/chat/completions', init: RequestInit = {}): Promise<Answer> {
    const res = await fetch(`${url(i)}${path}`, {
      method: 'POST',
      body: JSON.stringify({ model: 'glm-4.6', messages: hi }),
      ...init,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
    });
    return keep(`${init.method ?? 'POST'} ${path}`, res);
  }

  /** Polls until `check` holds, for at most `ms`; returns how long it took, or null if it never held. */
  async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
    const started = Date.now();
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await check()) return Date.now() - started;
      if (Date.now() - started > ms) return null;
      await new Promise((r) => setTimeout(r, 25));
    }
    return null;
  }

  /** What the extension does first: registers a pending sign-in with its PKCE challenge. */
  async function registerSignIn(deviceName = 'laptop') {
    const pkce = createPkce();
    const body = { redirectUri: 'vscode://glm-gateway.glm-gateway-vscode/callback', state: pkce.state, codeChallenge: pkce.challenge, codeChallengeMethod: 'S256', deviceName };
    const res = await keep('register', await fetch(`${url()}/api/extension/connect-requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    assert.equal(res.status, 201);
    return { pkce, requestId: res.json<{ requestId: string }>().requestId };
  }

  const deliver = async (signed: { body: string; headers: Record<string, string> }, i = 0) =>
    keep('POST /api/webhooks/clerk', await fetch(`${url(i)}/api/webhooks/clerk`, { method: 'POST', headers: signed.headers, body: signed.body }));

  describe("another person's ids", () => {
    it("another person cannot reveal, rename, rotate or revoke someone's provisioned key, not even through a path ending in .js or .png", async () => {
      const alice = await person();
      const mallory = await person();
      const [pending] = keyListSchema.parse((await alice.api('/api/keys')).json()).keys;
      assert.equal(pending?.secretPending, true);
      for (const id of [pending!.id, `${pending!.id}.js`, `${pending!.id}.png`]) {
        for (const [method, path, body] of [
          ['POST', `/api/keys/${id}/reveal`, undefined],
          ['PATCH', `/api/keys/${id}`, JSON.stringify({ name: 'pwned' })],
          ['POST', `/api/keys/${id}/rotate`, undefined],
          ['DELETE', `/api/keys/${id}`, undefined],
        ] as const) {
          const res = await mallory.api(path, { method, ...(body ? { body } : {}) });
          assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
          assert.equal(apiErrorSchema.parse(res.json()).error.code, 'not_found');
        }
      }
      const mine = keyListSchema.parse((await alice.api('/api/keys')).json()).keys[0]!;
      assert.deepEqual({ name: mine.name, status: mine.status, pending: mine.secretPending }, { name: 'Default key', status: 'active', pending: true });
      const { secret } = revealedSecretSchema.parse((await alice.api(`/api/keys/${mine.id}/reveal`, { method: 'POST', issues: true })).json());
      for (const i of [0, 1]) assert.equal((await gateway(secret, i)).status, 200);
    });

    it('usage, /v1/me and sign-out act on the caller alone, whatever user or key id the request names', async () => {
      const alice = await person();
      const mallory = await person();
      const a = await alice.newKey('alice');
      const m = await mallory.newKey('mallory');
      assert.equal((await gateway(a.secret)).status, 200);
      const aliceId = (await alice.userId())!;
      await usageRows(stack.db, aliceId, 1);

      const report = usageReportSchema.parse((await mallory.api(`/api/usage?days=7&userId=${aliceId}&user=${aliceId}`)).json());
      assert.deepEqual({ requests: report.today.requests, recent: report.recent.length }, { requests: 0, recent: 0 });
      const me = meSchema.parse((await gateway(m.secret, 0, `/v1/me?userId=${aliceId}&keyId=${a.key.id}`, { method: 'GET', body: null })).json());
      assert.deepEqual({ account: me.account.id, key: me.key.id }, { account: await mallory.userId(), key: m.key.id });

      const signOut = await gateway(m.secret, 1, `/v1/me/key?keyId=${a.key.id}`, { method: 'DELETE', body: JSON.stringify({ keyId: a.key.id, userId: aliceId }) });
      assert.equal(signOut.status, 204);
      assert.equal((await gateway(m.secret, 1)).status, 401, "the caller's own key is revoked");
      for (const i of [0, 1]) assert.equal((await gateway(a.secret, i)).status, 200, "the named key is not: instance " + i);
    });

    it("VS Code sign-in: a stolen code is useless without its verifier, and approving another's request binds the key to the approver", async () => {
      const alice = await person();
      const mallory = await person();
      const approve = (who: typeof alice, requestId: string) => who.api(`/api/extension/connect-requests/${requestId}/approve`, { method: 'POST' });
      const exchange = async (code: string, codeVerifier: string, token?: string) =>
        keep('token', await fetch(`${url()}/api/extension/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ code, codeVerifier }) }), true);
      const vsCodeKeys = async (who: typeof alice) => stack.db.collection('api_keys').countDocuments({ userId: await who.userId(), name: /^VS Code/ });

      // Mallory learns Alice's code (a leaked redirect) and brings her own session and a verifier of her own.
      const aliceSignIn = await registerSignIn();
      const code = new URL((await approve(alice, aliceSignIn.requestId)).json<{ redirectTo: string }>().redirectTo).searchParams.get('code')!;
      const mallorySignIn = await registerSignIn();
      const stolen = await exchange(code, mallorySignIn.pkce.verifier, await session(mallory.clerkId));
      assert.equal(stolen.status, 400);
      assert.equal(apiErrorSchema.parse(stolen.json()).error.code, 'invalid_grant');
      assert.deepEqual([await vsCodeKeys(alice), await vsCodeKeys(mallory)], [0, 0]);

      // Mallory approves Alice's pending request: the key the extension receives is Mallory's, not Alice's.
      const pending = await registerSignIn();
      const redirect = (await approve(mallory, pending.requestId)).json<{ redirectTo: string }>().redirectTo;
      const token = tokenResponseSchema.parse((await exchange(new URL(redirect).searchParams.get('code')!, pending.pkce.verifier)).json());
      const me = meSchema.parse((await gateway(token.secret, 0, '/v1/me', { method: 'GET', body: null })).json());
      assert.equal(me.account.id, await mallory.userId());
      assert.equal((await approve(alice, pending.requestId)).status, 409);
      assert.equal(await vsCodeKeys(alice), 0);
    });
  });

  describe('admin routes under crafted headers', () => {
    const middleware = (name: string) => Array(5).fill(name).join(':');
    const crafted: [string, Record<string, string>][] = [
      ['no extra header', {}],
      ['Host: localhost', { host: 'localhost' }],
      ['X-Forwarded-*', { 'x-forwarded-host': 'localhost', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'https', 'x-real-ip': '127.0.0.1', forwarded: 'for=127.0.0.1;host=localhost;proto=https' }],
      ['X-Original-URL / X-Rewrite-URL', { 'x-original-url': '/', 'x-rewrite-url': '/' }],
      // Next.js CVE-2025-29927: this header once made Next skip middleware (here: the Clerk proxy) entirely.
      ...['middleware', 'src/middleware', 'proxy', 'src/proxy'].map((m): [string, Record<string, string>] => [`X-Middleware-Subrequest: ${m}`, { 'x-middleware-subrequest': middleware(m) }]),
      ['Clerk internal headers', { 'x-clerk-auth-status': 'signed-in', 'x-clerk-auth-reason': 'session-token-and-uat-present', 'x-clerk-auth-signature': 'abc' }],
    ];

    it('admin APIs and pages refuse anonymous callers and non-admins, whatever Host, forwarding, rewrite or middleware headers say', async () => {
      const victim = await person();
      const { key } = await victim.newKey('victim');
      const today = new Date().toISOString().slice(0, 10);
      const targets: { method: string; path: string; body?: string; page?: boolean }[] = [
        { method: 'GET', path: '/api/admin/users' },
        { method: 'GET', path: '/api/admin/users/usr_x.js' },
        { method: 'PATCH', path: `/api/admin/users/${await victim.userId()}`, body: JSON.stringify({ status: 'suspended', reason: 'crafted' }) },
        { method: 'DELETE', path: `/api/admin/keys/${key.id}`, body: JSON.stringify({ reason: 'crafted' }) },
        { method: 'GET', path: `/api/admin/usage.csv?from=${today}&to=${today}` },
        { method: 'GET', path: '/admin', page: true },
        { method: 'GET', path: `/admin/users/${await victim.userId()}`, page: true },
      ];
      const mallory = await session(`user_mallory${Date.now()}`);
      // A well-formed admin session signed with a key that is not the instance's.
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT({ sid: 'sess_forged', azp: url() }).setProtectedHeader({ alg: 'RS256', kid: 'ins_test' }).setSubject(ADMIN).setIssuedAt().setExpirationTime('10m').sign(privateKey);
      sessionTokens.add(forged);
      const callers: [string, Record<string, string>, number][] = [
        ['anonymous', {}, 401],
        ['forged admin token', { authorization: `Bearer ${forged}`, 'x-clerk-auth-token': forged }, 401],
        ['non-admin', { authorization: `Bearer ${mallory}` }, 403],
      ];
      let requests = 0;
      for (const [headerName, headers] of crafted) {
        for (const [caller, auth, apiStatus] of callers) {
          for (const t of targets) {
            const res = await raw(url(), t.path, { method: t.method, headers: { ...headers, ...auth, ...(t.body ? { 'content-type': 'application/json' } : {}) }, ...(t.body ? { body: t.body } : {}) });
            requests++;
            const what = `${caller}, ${headerName}: ${t.method} ${t.path}`;
            if (t.page) assert.equal(res.status, 404, what);
            else {
              assert.equal(res.status, apiStatus, `${what}: ${res.text.slice(0, 200)}`);
              assert.equal(apiErrorSchema.parse(res.json()).error.code, apiStatus === 401 ? 'unauthenticated' : 'forbidden', what);
            }
            assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, `${what}: the proxy ran`);
          }
        }
      }
      assert.equal(requests, crafted.length * callers.length * targets.length);
      // Nothing happened to the victim, and the routes do work for a real admin sending the same headers.
      assert.equal((await victim.api('/api/keys')).json<{ keys: { id: string; status: string }[] }>().keys.find((k) => k.id === key.id)?.status, 'active');
      assert.equal(((await stack.db.collection('users').findOne({ clerkId: victim.clerkId })) as { status: string } | null)?.status, 'active');
      const admin = await session(ADMIN);
      for (const [headerName, headers] of crafted) {
        assert.equal((await raw(url(), '/api/admin/users', { headers: { ...headers, authorization: `Bearer ${admin}` } })).status, 200, headerName);
      }
    });

    it('a public page asked to serve an admin path through X-Original-URL or X-Rewrite-URL serves itself', async () => {
      const home = await raw(url(), '/', { headers: { 'x-original-url': '/admin', 'x-rewrite-url': '/api/admin/users' } });
      assert.equal(home.status, 200);
      assert.match(home.text, /One OpenAI-compatible endpoint/);
      assert.doesNotMatch(home.text, /<h1>Users<\/h1>|"users":/);
    });

    it('a session token issued for another site is refused, even when Host and X-Forwarded-Host name that site', async () => {
      for (const clerkId of [ADMIN, `user_elsewhere${Date.now()}`]) {
        const token = await session(clerkId, 0, { azp: 'https://evil.example' });
        for (const path of ['/api/keys', '/api/admin/users']) {
          const res = await raw(url(), path, { headers: { authorization: `Bearer ${token}`, host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
          assert.equal(res.status, 401, `${clerkId} ${path}`);
        }
      }
    });

    it('the redirect to sign-in stays on this site whatever Host the request names', async () => {
      for (const path of ['/dashboard', '/extension/connect?request=cnr_x']) {
        const res = await raw(url(), path, { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
        assert.equal(res.status, 307);
        const location = new URL(res.headers.get('location') ?? '', url());
        assert.equal(location.origin, url(), `redirected to ${location.href}`);
        assert.equal(location.pathname, '/sign-in');
      }
    });
  });

  describe('revocation and deletion', () => {
    it('a key revoked on one instance stops there at once and on the other within one invalidation poll', async () => {
      const owner = await person();
      const { key, secret } = await owner.newKey('short-lived', 1);
      for (const i of [0, 1]) assert.equal((await gateway(secret, i)).status, 200, 'the key is cached on both instances');
      assert.equal((await owner.api(`/api/keys/${key.id}`, { method: 'DELETE', i: 1 })).status, 200);
      const refused = await gateway(secret, 1);
      assert.equal(refused.status, 401);
      assert.match(openAIErrorSchema.parse(refused.json()).error.message, /revoked/);
      // The harness polls invalidations every 200 ms.
      const took = await within(3_000, async () => (await gateway(secret, 0)).status === 401);
      assert.ok(took !== null && took < 2_000, `the other instance still served the key ${took ?? '>3000'} ms later`);
    });

    it("a deleted user's keys stop on every instance, and their session can get no new key", async () => {
      const clerkId = `user_leaving${Date.now()}`;
      assert.equal((await deliver(clerk.sign(clerkUserEvent('user.created', { id: clerkId, email: 'leaving@example.test' })))).status, 200);
      const leaving = await person(clerkId);
      const [provisioned] = keyListSchema.parse((await leaving.api('/api/keys')).json()).keys;
      const first = revealedSecretSchema.parse((await leaving.api(`/api/keys/${provisioned!.id}/reveal`, { method: 'POST', issues: true })).json()).secret;
      const second = (await leaving.newKey('second', 1)).secret;
      for (const s of [first, second]) for (const i of [0, 1]) assert.equal((await gateway(s, i)).status, 200);

      assert.equal((await deliver(clerk.sign(clerkDeletedEvent(clerkId)))).status, 200);
      for (const s of [first, second]) assert.equal((await gateway(s, 0)).status, 401, 'refused at once where the webhook arrived');
      const took = await within(3_000, async () => (await gateway(first, 1)).status === 401 && (await gateway(second, 1)).status === 401);
      assert.ok(took !== null && took < 2_000, `the other instance still served the keys ${took ?? '>3000'} ms later`);

      for (const [path, method] of [['/api/keys', 'GET'], ['/api/keys', 'POST'], ['/api/usage', 'GET']] as const) {
        const res = await leaving.api(path, { method, ...(method === 'POST' ? { body: JSON.stringify({ name: 'back door' }) } : {}), i: 1 });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(apiErrorSchema.parse(res.json()).error.code, 'account_deleted');
      }
      const { requestId } = await registerSignIn('old laptop');
      assert.equal((await leaving.api(`/api/extension/connect-requests/${requestId}/approve`, { method: 'POST' })).status, 401);
      assert.equal(await stack.db.collection('api_keys').countDocuments({ userId: await leaving.userId(), revokedAt: null }), 0);
    });
  });

  describe('webhooks', () => {
    it('forged, transplanted and replayed deliveries are refused and change nothing', async () => {
      const clerkId = `user_victim${Date.now()}`;
      const captured = clerk.sign(clerkUserEvent('user.created', { id: clerkId, email: 'victim@example.test' }));
      assert.equal((await deliver(captured)).status, 200);
      const deletion = JSON.stringify(clerkDeletedEvent(clerkId));
      const stranger = await createFakeClerk();
      const refused: [string, { body: string; headers: Record<string, string> }][] = [
        ['signed with another secret', stranger.sign(clerkDeletedEvent(clerkId))],
        ["another delivery's signature on a deletion", { body: deletion, headers: captured.headers }],
        ['a captured delivery under a new svix-id', { body: captured.body, headers: { ...captured.headers, 'svix-id': `msg_${randomBytes(12).toString('hex')}` } }],
        ['a captured delivery with a fresh timestamp', { body: captured.body, headers: { ...captured.headers, 'svix-timestamp': String(Math.floor(Date.now() / 1000) + 1) } }],
        ['a deletion stamped 10 minutes ahead', clerk.sign(clerkDeletedEvent(clerkId), { at: new Date(Date.now() + 10 * 60_000) })],
        ['a deletion stamped 10 minutes ago', clerk.sign(clerkDeletedEvent(clerkId), { at: new Date(Date.now() - 10 * 60_000) })],
        ['garbage next to a signature for another body', { body: deletion, headers: { ...captured.headers, 'svix-signature': `v1,${randomBytes(32).toString('base64')} ${captured.headers['svix-signature']}` } }],
      ];
      for (const [what, delivery] of refused) {
        for (const i of [0, 1]) {
          const res = await deliver(delivery, i);
          assert.equal(res.status, 400, what);
          assert.equal(apiErrorSchema.parse(res.json()).error.code, 'invalid_signature', what);
        }
      }
      const again = await deliver(captured, 1);
      assert.equal(again.json<{ result: string }>().result, 'duplicate', 'the same delivery again is acknowledged and ignored');
      const user = (await stack.db.collection('users').findOne({ clerkId })) as { _id: string; status: string } | null;
      assert.equal(user?.status, 'active');
      assert.equal(await stack.db.collection('api_keys').countDocuments({ userId: user!._id, revokedAt: null }), 1);
    });
  });

  describe('upstream steering', () => {
    let decoy: Server;
    let decoyHits = 0;
    before(async () => {
      decoy = createServer((_req, res) => {
        decoyHits++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
      await new Promise<void>((r) => decoy.listen(0, '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => decoy.close(() => r())));

    it('a caller cannot choose the upstream or its credential, by body, query or header, streamed or not', async () => {
      const owner = await person();
      const { secret } = await owner.newKey('steering');
      const elsewhere = `http://127.0.0.1:${(decoy.address() as AddressInfo).port}/v4`;
      const steer = { api_key: 'sk-evil', api_base: elsewhere, base_url: elsewhere, api_version: '1', organization: 'org-evil', user_api_key: 'sk-evil' };
      const headers = {
        'x-api-key': 'sk-evil',
        'api-key': 'sk-evil',
        'x-upstream-url': elsewhere,
        'x-upstream-authorization': 'Bearer sk-evil',
        'proxy-authorization': 'Bearer sk-evil',
        'openai-organization': 'org-evil',
        'x-forwarded-host': new URL(elsewhere).host,
        'x-forwarded-proto': 'http',
        forwarded: `host=${new URL(elsewhere).host}`,
        'x-request-id': 'caller-chosen',
      };
      const query = new URLSearchParams({ api_base: elsewhere, base_url: elsewhere, api_key: 'sk-evil' });
      const allowed = new Set(['authorization', 'content-type', 'accept', 'host', 'content-length', 'connection', 'transfer-encoding', 'x-request-id']);
      for (const prefix of ['/v1', '/api/v1']) {
        for (const stream of [false, true]) {
          const before = stack.upstream.requests.length;
          const res = await gateway(secret, 0, `${prefix}/chat/completions?${query}`, { headers, body: JSON.stringify({ model: 'glm-4.6', messages: hi, stream, ...steer }) });
          assert.equal(res.status, 200, res.text);
          const seen = stack.upstream.requests.slice(before);
          assert.equal(seen.length, 1);
          assert.equal(seen[0]!.path, '/api/paas/v4/chat/completions');
          assert.equal(seen[0]!.headers.authorization, `Bearer ${stack.upstream.apiKey}`);
          assert.deepEqual(Object.keys(seen[0]!.headers).filter((h) => !allowed.has(h)), [], 'no caller header is forwarded');
          assert.match(String(seen[0]!.headers['x-request-id'] ?? 'req_'), /^req_/, "the request id is the gateway's own");
          assert.deepEqual(Object.keys(steer).filter((f) => f in seen[0]!.body), [], 'no steering field is forwarded');
          assert.ok(!JSON.stringify(seen[0]).includes(secret), "the caller's gateway key never reaches the upstream");
        }
      }
      assert.equal(decoyHits, 0, 'nothing was sent where the caller pointed');
    });

    it('an Authorization header carrying a second credential is refused, not split', async () => {
      const owner = await person();
      const { secret } = await owner.newKey('double');
      for (const authorization of [`Bearer ${secret}, Bearer sk-evil`, `Bearer ${secret} sk-evil`, `Bearer sk-evil, Bearer ${secret}`]) {
        const res = await keep('double auth', await fetch(`${url()}/v1/chat/completions`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'glm-4.6', messages: hi }) }));
        assert.equal(res.status, 401, authorization.replace(secret, 'glmgw_…'));
      }
      const viaApiKeyHeader = await gateway('sk-evil', 0, '/v1/chat/completions', { headers: { 'x-api-key': secret } });
      assert.equal(viaApiKeyHeader.status, 401, 'only Authorization carries the gateway key');
    });
  });

  describe('security headers on web pages', () => {
    const nonceOf = (csp: string) => /'nonce-([^']+)'/.exec(csp)?.[1] ?? null;

    /** The page's CSP names a nonce, and every script tag in its HTML carries exactly that nonce. */
    function assertLockedDown(what: string, res: Answer): string {
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "default-src 'self'", "form-action 'self'"]) assert.ok(csp.includes(directive), `${what}: ${directive} in ${csp}`);
      const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src ')) ?? '';
      assert.match(scriptSrc, /'strict-dynamic'/, what);
      assert.doesNotMatch(scriptSrc, /'unsafe-inline'|'unsafe-eval'/, what);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', what);
      assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin', what);
      const nonce = nonceOf(csp);
      assert.ok(nonce && nonce.length >= 22, `${what}: a nonce of 128 bits`);
      const scripts = res.text.match(/<script\b[^>]*>/g) ?? [];
      assert.ok(scripts.length > 0, `${what}: the page has scripts`);
      for (const tag of scripts) assert.ok(tag.includes(`nonce="${nonce}"`), `${what}: ${tag} lacks the nonce`);
      return nonce;
    }

    it('every page sends a nonce CSP that forbids framing, plugins and <base>, with nosniff, DENY and a referrer policy', async () => {
      const signedIn = await session(`user_headers${Date.now()}`);
      const admin = await session(ADMIN);
      const { requestId } = await registerSignIn('desk');
      const pages: [string, string, string | null, number][] = [
        ['home', '/', null, 200],
        ['sign-in', '/sign-in', null, 200],
        ['dashboard', '/dashboard', signedIn, 200],
        ['connect', `/extension/connect?request=${requestId}`, signedIn, 200],
        ['admin', '/admin', admin, 200],
        ['admin for a non-admin (404 page)', '/admin', signedIn, 404],
      ];
      const nonces = new Set<string>();
      for (const [what, path, token, status] of pages) {
        const res = await raw(url(), path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        assert.equal(res.status, status, what);
        nonces.add(assertLockedDown(what, res));
        if (status === 200) assert.match(res.text, /<script[^>]*data-clerk-js-script[^>]*nonce="/, `${what}: Clerk's loader carries the nonce`);
      }
      assert.equal(nonces.size, pages.length, 'a fresh nonce for every response');
      // A caller cannot choose the nonce: its own headers are replaced before the page renders.
      const chosen = await raw(url(), '/', { headers: { 'x-nonce': 'attacker', 'content-security-policy': "script-src 'nonce-attacker'" } });
      assert.notEqual(assertLockedDown('home with a chosen nonce', chosen), 'attacker');
      assert.ok(!chosen.text.includes('nonce="attacker"'));
      // JSON answers are never sniffed as HTML either.
      assert.equal((await raw(url(), '/api/keys')).headers.get('x-content-type-options'), 'nosniff');
    });

    it('a site without sign-in configured sends the same policy', async function () {
      this.timeout(60_000);
      const bare = await stack.addServer({ NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: '', CLERK_SECRET_KEY: '', CLERK_WEBHOOK_SIGNING_SECRET: '', CLERK_JWT_KEY: '' });
      const home = await raw(bare.url, '/');
      assert.match(home.text, /Sign-in is not configured/);
      assertLockedDown('home without Clerk', home);
      assert.doesNotMatch(home.headers.get('content-security-policy') ?? '', /clerk/i);
    });

    it('behind TLS (an https public URL) pages tell browsers to keep to HTTPS; over plain HTTP they do not', async function () {
      this.timeout(60_000);
      assert.equal((await raw(url(), '/')).headers.get('strict-transport-security'), null, 'not over plain HTTP');
      const tls = await stack.addServer({ PUBLIC_URL: 'https://gateway.example.test', NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: '', CLERK_SECRET_KEY: '', CLERK_WEBHOOK_SIGNING_SECRET: '', CLERK_JWT_KEY: '' });
      for (const path of ['/', '/dashboard', '/api/keys']) {
        assert.equal((await raw(tls.url, path)).headers.get('strict-transport-security'), 'max-age=31536000', path);
      }
    });

    describe('in Chromium', function () {
      this.timeout(90_000);
      let browser: Browser;
      before(async () => {
        browser = await launchBrowser();
      });
      after(async () => browser?.close());

      /** A browser signed in as `clerkId` the way Clerk's cookies do it for a dev instance. */
      async function signedInBrowser(clerkId: string): Promise<BrowserContext> {
        const context = await browser.newContext();
        await context.addCookies([
          { name: '__session', value: await session(clerkId), url: url() },
          { name: '__client_uat', value: String(Math.floor(Date.now() / 1000) - 10), url: url() },
          { name: '__clerk_db_jwt', value: 'dvb_test', url: url() },
        ]);
        // Added through the DevTools protocol, so the page's own CSP does not apply to this listener. A string:
        // it runs in the page, whose DOM types this Node project does not load.
        await context.addInitScript(`
          window.violations = [];
          document.addEventListener('securitypolicyviolation', (e) =>
            window.violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));
        `);
        return context;
      }

      it('the dashboard and the admin console run their scripts with no CSP violation, and no page can be framed', async () => {
        const context = await signedInBrowser(ADMIN);
        const page = await context.newPage();
        // Clerk's servers are out of reach here, but a request for its script shows the policy let it load.
        const frontendApi = new URL(`https://${Buffer.from(clerk.env.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY!.slice('pk_test_'.length), 'base64').toString().replace(/\$$/, '')}`).host;
        const clerkScripts: string[] = [];
        page.on('request', (r) => {
          if (new URL(r.url()).host === frontendApi && r.resourceType() === 'script') clerkScripts.push(r.url());
        });
        for (const [path, drawn] of [['/dashboard', '.recharts-surface'], ['/admin', 'table']] as const) {
          await page.goto(`${url()}${path}`);
          await page.locator(drawn).first().waitFor();
          // Hydrated: React has attached to the server-rendered markup (only client script can set this).
          await page.waitForFunction(`Object.keys(document.querySelector('main') || {}).some((k) => k.startsWith('__react'))`);
          // zod probes once whether it may compile validators (`Function('')`) and falls back when CSP says no:
          // that refusal is the policy working. Anything else blocked would be a script or style of ours.
          const violations = await page.evaluate(() => (globalThis as unknown as { violations: string[] }).violations);
          assert.deepEqual(violations.filter((v) => !/^script-src eval .*\/_next\/static\/chunks\//.test(v)), [], path);
          assert.ok(clerkScripts.length > 0, `${path}: Clerk's script was allowed to load`);
          clerkScripts.length = 0;
        }
        // Another site (here a blank page) framing the dashboard, as a clickjacking page would.
        const framer = await context.newPage();
        // The gateway's JSON sends no framing policy, so it shows that framing itself works in this browser.
        const framedResponse = framer.waitForResponse(`${url()}/dashboard`);
        await framer.setContent(`<iframe src="${url()}/dashboard"></iframe><iframe src="${url()}/v1/models"></iframe>`, { waitUntil: 'load' });
        await framedResponse;
        const [dashboard, control] = framer.mainFrame().childFrames();
        assert.equal(control?.url(), `${url()}/v1/models`, 'a page without a framing policy loads in the frame');
        assert.equal(dashboard?.url(), 'chrome-error://chromewebdata/', 'the browser refused to show the dashboard in the frame');
        assert.ok(!(await dashboard.content()).includes('Your gateway'));
        await context.close();
      });
    });
  });

  describe('secrets stay secret', () => {
    it('admin views, audit rows and the CSV export carry no secret or key hash', async () => {
      const owner = await person();
      const { key, secret } = await owner.newKey('to revoke');
      assert.equal((await gateway(secret, 1)).status, 200);
      const admin = await session(ADMIN);
      const asAdmin = async (path: string, init: RequestInit = {}) =>
        keep(`admin ${path}`, await fetch(`${url()}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } }));
      const userId = (await owner.userId())!;
      assert.equal((await asAdmin(`/api/admin/keys/${key.id}`, { method: 'DELETE', body: JSON.stringify({ reason: `leaked: ${secret.slice(0, 12)}…` }) })).status, 200);
      assert.equal((await asAdmin(`/api/admin/users/${userId}`, { method: 'PATCH', body: JSON.stringify({ rpm: 7, status: 'suspended', reason: 'review' }) })).status, 200);
      assert.equal((await gateway(secret, 0)).status, 401);
      await usageRows(stack.db, userId, 1);
      const today = new Date().toISOString().slice(0, 10);
      for (const path of ['/api/admin/audit', `/api/admin/users/${userId}`, `/api/admin/users?query=${userId}`, '/api/admin/system', `/api/admin/usage.csv?from=${today}&to=${today}`]) {
        assert.equal((await asAdmin(path)).status, 200, path);
      }
      const audit = await stack.db.collection('audit_log').find({ target: { $in: [userId, key.id] } }).toArray();
      assert.ok(audit.length >= 3, 'the actions were audited');
      // 401s for a well-formed unknown key, a revoked one, an expired session and a forged one.
      assert.equal((await gateway(`glmgw_${'A'.repeat(32)}`)).status, 401);
      const expired = await session(owner.clerkId, 0, { expiresIn: '-1m' });
      for (const token of [expired, `${expired.slice(0, -4)}AAAA`]) {
        assert.equal((await keep('401', await fetch(`${url()}/api/keys`, { headers: { authorization: `Bearer ${token}` } }))).status, 401);
      }
    });

    it('the upstream key, gateway keys, their hashes, session tokens and signing secrets appear in no response, stored row or log line', async () => {
      const never = new Map<string, string>([
        ['upstream key', stack.upstream.apiKey],
        ['webhook secret', clerk.env.CLERK_WEBHOOK_SIGNING_SECRET!],
        ['webhook secret body', clerk.env.CLERK_WEBHOOK_SIGNING_SECRET!.replace(/^whsec_/, '')],
        ['Clerk secret key', clerk.env.CLERK_SECRET_KEY!],
        ['key sealing secret', clerk.env.KEY_SEALING_SECRET!],
      ]);
      for (const s of gatewaySecrets) never.set(`hash of ${s.slice(0, 12)}`, sha256(s));
      for (const t of sessionTokens) never.set(`session token ${t.slice(-8)}`, t);
      assert.ok(gatewaySecrets.size >= 8 && sessionTokens.size >= 10, 'the suite handled secrets to look for');

      let checked = 0;
      for (const a of answers) {
        for (const [name, value] of never) assert.ok(!a.text.includes(value), `${name} in the answer to ${a.label}`);
        for (const s of gatewaySecrets) if (s !== a.issued) assert.ok(!a.text.includes(s), `a gateway key in the answer to ${a.label}`);
        checked++;
      }
      const logs = stack.servers.map((s) => s.output()).join('\n');
      assert.ok(logs.length > 0);
      for (const [name, value] of [...never, ...[...gatewaySecrets].map((s): [string, string] => [`gateway key ${s.slice(0, 12)}`, s])]) {
        assert.ok(!logs.includes(value), `${name} in a server log line`);
      }
      const collections = (await stack.db.db!.listCollections().toArray()).map((c) => c.name);
      assert.ok(collections.includes('audit_log') && collections.includes('usage_events'));
      for (const name of collections) {
        const stored = JSON.stringify(await stack.db.collection(name).find().toArray());
        for (const s of gatewaySecrets) assert.ok(!stored.includes(s), `a gateway key stored in ${name}`);
        for (const [what, value] of never) if (!(name === 'api_keys' && what.startsWith('hash of'))) assert.ok(!stored.includes(value), `${what} stored in ${name}`);
      }
      assert.ok(checked > 100, `${checked} answers searched`);
    });
  });
});
