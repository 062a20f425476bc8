import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { apiErrorSchema, issuedKeySchema } from '@glm-gateway/shared';
import { domain, provision } from './harness/accounts';
import { chat, parseEvents } from './harness/client';
import { createFakeClerk, type FakeClerk } from './harness/clerk';
import { startStack, type Stack } from './harness/context';
import { isRunning, websiteProcess, type RunningServer } from './harness/server';
import { usageRows } from './harness/usage';
import { waitFor } from './reliability/expect';

/** A hang fails the request (and the test) with a clear error instead of waiting for mocha's timeout. */
const HANG = 15_000;
const WEBSITE_MAX_BODY_BYTES = 1024 * 1024;
const hi = [{ role: 'user', content: 'hi' }];

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection (rather than the test giving up). */
  closed: boolean;
}

/**
 * Sends `head` as written, byte for byte: fetch refuses TRACE, TRACK and CONNECT, and always sends the body
 * it declares. Resolves with the first answer once the server closes or `HANG` passes.
 */
function rawRequest(url: string, head: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write(head));
    let text = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const [top = '', ...body] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: body.join('\r\n\r\n'), closed });
    };
    const timer = setTimeout(() => done(false), HANG);
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined); // a reset shows as a close with whatever arrived
  });
}

/** Asserts a refusal in the website API's error shape with this status and code, and a message in words. */
function expectApiRefusal(answer: { status: number; headers: Record<string, string>; body: string }, status: number, code: string): void {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.status}: ${answer.body.slice(0, 300)}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
  const { error } = apiErrorSchema.parse(JSON.parse(answer.body));
  assert.equal(error.code, code);
  assert.ok(error.message.length > 10, 'the message says what went wrong');
}

async function answerOf(res: Response): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** The website's health as a client sees it: status, retry-after and error code (null when it is not an error). */
async function websiteHealth(url: string): Promise<{ status: number; retryAfter: string | null; code: string | null }> {
  const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(HANG) });
  const body: unknown = await res.json();
  const parsed = apiErrorSchema.safeParse(body);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), code: parsed.success ? parsed.data.error.code : null };
}

describe('the website runs in its own process behind the gateway\'s server', function () {
  this.timeout(60_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let services: Awaited<ReturnType<typeof domain>>;
  let server: RunningServer;
  let url: string;

  before(async function () {
    this.timeout(90_000);
    clerk = await createFakeClerk();
    // A minute between invalidation polls: a revocation this instance sees sooner came over IPC from its website.
    stack = await startStack({ env: { ...clerk.env, INVALIDATION_POLL_MS: '60000' } });
    services = await domain(stack);
    server = stack.servers[0]!;
    url = server.url;
  });
  after(async () => {
    await services?.close();
    await stack?.close();
  });

  describe('requests refused before they reach the website', () => {
    it('TRACE, TRACK and CONNECT get 405 with the allowed methods, in the API\'s error shape', async () => {
      for (const head of ['TRACE /api/health HTTP/1.1', 'TRACK /dashboard HTTP/1.1', 'CONNECT example.test:443 HTTP/1.1']) {
        const answer = await rawRequest(url, `${head}\r\nHost: example.test\r\nConnection: close\r\n\r\n`);
        expectApiRefusal(answer, 405, 'method_not_allowed');
        assert.match(answer.headers.allow ?? '', /GET, HEAD, POST/, head);
      }
      assert.equal((await fetch(`${url}/api/health`)).status, 200, 'the website still answers');
    });

    it('a path that is not valid percent-encoding gets 400, not a 500', async () => {
      for (const path of ['/api/keys/%FF', '/dashboard/%E0%A4%A', '/%']) {
        expectApiRefusal(await answerOf(await fetch(`${url}${path}`)), 400, 'invalid_path');
      }
    });

    it('an upload declared over 1 MiB gets 413 before any of its body is sent', async () => {
      // Only the head goes out: an answer at all shows the server did not wait for the body.
      const head = `POST /api/webhooks/clerk HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/json\r\nContent-Length: ${WEBSITE_MAX_BODY_BYTES + 1}\r\n\r\n`;
      const answer = await rawRequest(url, head);
      expectApiRefusal(answer, 413, 'request_too_large');
      assert.ok(answer.closed, 'the server closed the connection instead of waiting for the body');
    });

    it('a chunked upload that passes 1 MiB and then never ends is cut with 413, not waited for', async () => {
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      let sent = 0;
      // 1 MiB and one chunk more, then the body neither grows nor ends, as a stalled or hostile client's does.
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent > WEBSITE_MAX_BODY_BYTES) return new Promise<void>(() => undefined);
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const session = await clerk.sessionToken('user_worker_upload', { azp: url });
      const res = await fetch(`${url}/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
        signal: AbortSignal.timeout(HANG),
      } as RequestInit);
      expectApiRefusal(await answerOf(res), 413, 'request_too_large');
    });
  });

  describe('when the website process dies', () => {
    it('gateway streams finish and are metered, /v1 answers, the website says 503 with retry-after and comes back by itself', async function () {
      this.timeout(45_000);
      const account = await provision(services, { rpm: 1_000 });
      const before = websiteProcess(server)?.pid;
      assert.ok(before, 'the server runs its website in a child process');

      // 40 chunks, 50 ms apart: the stream outlives the website's crash and most of its restart.
      const stream = await chat(url, account.secret, { model: 'glm-4.6', stream: true, messages: hi, fake: { chunks: 40, delayMs: 50 } }, '/v1', {}, AbortSignal.timeout(HANG));
      assert.equal(stream.status, 200);
      const reader = stream.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value, { stream: true });

      process.kill(before, 'SIGKILL');
      // What a visitor gets meanwhile: an answer in the API's shape that says when to retry, never a hang.
      const down = await waitFor(() => websiteHealth(url), (h) => h.status !== 200, 5_000);
      assert.ok([502, 503].includes(down.status), `the website answers 502/503 while it is down, got ${down.status}`);
      assert.equal(down.code, 'website_unavailable');
      assert.equal(down.retryAfter, '1');

      const plain = await chat(url, account.secret, { model: 'glm-4.6', messages: hi, fake: { chunks: 3 } }, '/v1', {}, AbortSignal.timeout(HANG));
      assert.equal(plain.status, 200, 'the gateway answers while the website is down');
      await plain.text();
      const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${account.secret}` } });
      assert.equal(models.status, 200);
      await models.text();

      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const events = parseEvents(text);
      assert.equal(events.at(-1), '[DONE]', 'the stream ran to its end');
      assert.equal(events.filter((e) => e.includes('" tok"')).length, 40, 'every chunk arrived');

      const rows = await usageRows(stack.db, account.userId, 2);
      const streamed = rows.find((r) => r.stream);
      assert.deepEqual(streamed && [streamed.status, streamed.completionTokens, streamed.aborted], [200, 40, false], 'the stream is metered in full');
      assert.equal(rows.length, 2, 'both gateway requests are metered once');

      const back = await waitFor(() => websiteHealth(url), (h) => h.status === 200, 20_000, 100);
      assert.equal(back.status, 200, 'the website is back by itself');
      const after = websiteProcess(server)?.pid;
      assert.ok(after && after !== before, 'a new website process runs');
      assert.match(server.output(), /website process exited; starting it again/);
    });

    it('a website process that keeps dying is restarted after longer and longer pauses', async function () {
      this.timeout(60_000);
      const pauses = () => [...server.output().matchAll(/"restartInMs":(\d+)/g)].map((m) => Number(m[1]));
      const logged = pauses().length;
      const waited: number[] = [];
      const told: number[] = [];
      for (let crash = 0; crash < 2; crash++) {
        const pid = websiteProcess(server)?.pid;
        assert.ok(pid, 'a website process runs');
        process.kill(pid, 'SIGKILL');
        const killedAt = Date.now();
        // Visitors are told to come back when the restart begins, not sooner.
        told.push(Number((await waitFor(() => websiteHealth(url), (h) => h.status === 503, 5_000, 20)).retryAfter));
        await waitFor(async () => websiteProcess(server)?.pid, (p) => p !== undefined && p !== pid, 30_000, 20);
        waited.push(Date.now() - killedAt);
        // Up and serving again before the next crash, which then comes soon after its start.
        await waitFor(() => websiteHealth(url), (h) => h.status === 200, 30_000, 100);
      }
      const [first, second] = pauses().slice(logged);
      assert.ok(first && second, `both restarts say how long they wait: ${server.output().slice(-500)}`);
      assert.equal(second, 2 * first, 'a crash soon after a start doubles the pause');
      for (const [i, pause] of [first, second].entries()) {
        assert.ok(waited[i]! >= pause - 50 && waited[i]! < pause + 2_000, `restart ${i + 1} came after ${waited[i]} ms; the log said ${pause} ms`);
        assert.ok(told[i]! >= Math.max(1, pause / 1000 - 1) && told[i]! <= pause / 1000, `during a ${pause} ms pause the website said Retry-After: ${told[i]}`);
      }
    });

    it('after a restart, a key revoked on the website is refused by the gateway at once', async () => {
      const api = async (path: string, init: RequestInit = {}) => {
        const session = await clerk.sessionToken('user_worker_revoker', { azp: url, claims: { email: 'revoker@example.test' } });
        return fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' } });
      };
      const created = await api('/api/keys', { method: 'POST', body: JSON.stringify({ name: 'revoked on the website' }) });
      assert.equal(created.status, 201, await created.clone().text());
      const { key, secret } = issuedKeySchema.parse(await created.json());
      // Control: another key revoked outside this server is still accepted from the gateway's cache (it
      // hears of it at the next poll, a minute away), so an immediate refusal below can only come over IPC.
      const other = await provision(services);
      for (const s of [secret, other.secret]) assert.equal((await chat(url, s, { model: 'glm-4.6', messages: hi })).status, 200, 'the key is used, and cached');
      await services.keys.revoke(other.keyId);
      assert.equal((await chat(url, other.secret, { model: 'glm-4.6', messages: hi })).status, 200, 'control: the cache still holds the other key');

      assert.equal((await api(`/api/keys/${key.id}`, { method: 'DELETE' })).status, 200);
      const refused = await chat(url, secret, { model: 'glm-4.6', messages: hi });
      assert.equal(refused.status, 401, 'the revoked key stops at once');
    });
  });

  describe('pages, uploads and cookies through the relay', () => {
    it('a client that offers an HTTP/2 upgrade, as `curl --http2` does, is answered over HTTP/1.1 on the gateway and the website', async () => {
      const account = await provision(services);
      const offer = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
      const models = await rawRequest(url, `GET /v1/models HTTP/1.1\r\nHost: example.test\r\nAuthorization: Bearer ${account.secret}\r\n${offer}Connection: close\r\n\r\n`);
      assert.equal(models.status, 200, models.body.slice(0, 300));
      assert.match(models.body, /glm-4\.6/);
      const health = await rawRequest(url, `GET /api/health HTTP/1.1\r\nHost: example.test\r\n${offer}Connection: close\r\n\r\n`);
      assert.equal(health.status, 200, health.body.slice(0, 300));
      assert.match(health.body, /"database":"up"/);
    });

    it('an upload that waits for 100 Continue first, as curl\'s larger ones do, goes through', async () => {
      const session = await clerk.sessionToken('user_worker_continue', { azp: url });
      const body = JSON.stringify({ name: 'asked to continue' });
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${url}/api/keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
          signal: AbortSignal.timeout(HANG),
        });
        // The body goes only once the server says to continue, as curl and .NET clients do.
        req.on('continue', () => req.end(body));
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
      });
      assert.equal(answer.status, 201, answer.body);
      assert.equal(issuedKeySchema.parse(JSON.parse(answer.body)).key.name, 'asked to continue');
    });

    it('Clerk\'s sign-in handshake sets each of its cookies, and the dashboard then renders for that person', async () => {
      const clerkId = `user_worker_handshake${Date.now()}`;
      const session = await clerk.sessionToken(clerkId, { azp: url, claims: { email: 'handshake@example.test' } });
      const cookies = [`__session=${session}; Path=/; SameSite=Lax`, `__client_uat=${Math.floor(Date.now() / 1000) - 10}; Path=/; SameSite=Lax`, '__clerk_db_jwt=dvb_worker; Path=/; SameSite=Lax'];
      const handshake = await clerk.handshakeToken(cookies);
      // How a browser comes back from Clerk's Frontend API at the end of a sign-in.
      const landing = await fetch(`${url}/dashboard?__clerk_handshake=${handshake}`, { redirect: 'manual', headers: { accept: 'text/html', 'sec-fetch-dest': 'document' } });
      await landing.text();
      assert.ok([302, 303, 307].includes(landing.status), `a redirect, got ${landing.status}`);
      assert.equal(new URL(landing.headers.get('location') ?? '', url).pathname, '/dashboard');
      const set = landing.headers.getSetCookie();
      for (const name of ['__session', '__client_uat', '__clerk_db_jwt']) {
        assert.equal(set.filter((c) => c.startsWith(`${name}=`)).length, 1, `one Set-Cookie for ${name}, kept apart from the others`);
      }
      const jar = set.map((c) => c.split(';', 1)[0]).join('; ');
      const page = await fetch(`${url}/dashboard`, { redirect: 'manual', headers: { accept: 'text/html', 'sec-fetch-dest': 'document', cookie: jar } });
      const html = await page.text();
      assert.equal(page.status, 200, html.slice(0, 300));
      assert.match(html, /Your gateway/);
      assert.match(html, /handshake@example\.test/);
    });
  });

  describe('shutdown', () => {
    it('SIGTERM stops the website process too, at once even after a refused upload, and leaves neither it nor its socket behind', async function () {
      this.timeout(45_000);
      const extra = await stack.addServer();
      const website = websiteProcess(extra);
      assert.ok(website && isRunning(website.pid) && existsSync(website.socketPath));
      // An upload cut off on its way to the website left a connection that kept it from stopping.
      const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(64 * 1024)) });
      const refused = await fetch(`${extra.url}/api/webhooks/clerk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: endless, duplex: 'half' } as RequestInit);
      assert.equal(refused.status, 413);
      await refused.text();
      const stopping = Date.now();
      assert.equal(await extra.stop('SIGTERM'), 0);
      const tookMs = Date.now() - stopping;
      assert.ok(tookMs < 10_000, `stopped after ${tookMs} ms; the website process was killed at the end of the 25 s grace period:\n${extra.output().slice(-500)}`);
      assert.equal(isRunning(website.pid), false, 'the website process exited before the server did');
      assert.equal(existsSync(dirname(website.socketPath)), false, 'the private socket directory is removed');
    });

    it('a server killed outright takes its website process and its socket with it', async function () {
      this.timeout(45_000);
      const extra = await stack.addServer();
      const website = websiteProcess(extra);
      assert.ok(website && isRunning(website.pid));
      await extra.stop('SIGKILL');
      const running = await waitFor(async () => isRunning(website.pid), (r) => !r, 10_000);
      assert.equal(running, false, 'the orphaned website process exits on its own');
      assert.equal(existsSync(dirname(website.socketPath)), false, 'and removes the socket directory nobody else will');
    });
  });
});
