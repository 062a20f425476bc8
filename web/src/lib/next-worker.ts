import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import type { InvalidationEvent } from '../modules/invalidation';
import type { Logger } from './logger';

/** What the website process tells the gateway's: that it is listening, and what changed. */
export type WorkerMessage = 'ready' | { invalidate: InvalidationEvent };

export interface NextWorker {
  /** Relays a website request to the Next process and its answer back, streamed both ways. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** WebSocket upgrades (Next's dev reload). */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
  close(graceMs: number): Promise<void>;
}

// Hop-by-hop headers belong to one connection, not to the request (RFC 9110 §7.6.1); undici refuses some.
// So is `expect: 100-continue` by the time the request is relayed: Node has already answered it, and undici
// refuses to send it (curl asks for it on larger uploads, which got a 502).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'expect']);
/** The pause before restarting a website process that exited: doubled while it keeps dying soon after it starts. */
const RESTART_DELAY_MS = 1_000;
const RESTART_DELAY_MAX_MS = 30_000;
/** A process that was up this long before it exited is not in a crash loop: the next restart waits the least again. */
const STABLE_AFTER_MS = 30_000;

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function refusal(code: string, message: string, headers: Record<string, string>): { body: string; headers: Record<string, string | number> } {
  const body = JSON.stringify({ error: { code, message } });
  return { body, headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers } };
}

function refuse(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const r = refusal(code, message, headers);
  res.writeHead(status, r.headers).end(r.body);
}

/** For what Node hands over as a bare socket, with no response object to answer on. */
function refuseOnSocket(socket: Duplex, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const r = refusal(code, message, { ...headers, connection: 'close' });
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...Object.entries(r.headers).map(([name, value]) => `${name}: ${value}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${r.body}`, () => socket.destroy());
}

const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Not `connection: close`: Node would close the socket with the upload unread, and the reset that sends can
 * reach the client before the answer (1 fetch in 16 saw only "connection reset"). server.ts closes it once
 * the client has had time to read the answer.
 */
function refuseTooLarge(res: ServerResponse, maxBodyBytes: number): void {
  refuse(res, 413, 'request_too_large', `Request bodies on this site are limited to ${maxBodyBytes} bytes.`);
}

/** Node gives CONNECT its own event, and without a listener drops the connection unanswered. */
export function refuseConnect(socket: Duplex): void {
  refuseOnSocket(socket, 405, 'method_not_allowed', 'CONNECT is not supported.', { allow: ALLOW });
}

// Requests Node's parser refuses before any request object exists: a method it does not know (TRACK)
// would otherwise get an empty 400.
const UNPARSED: Record<string, [status: number, code: string, message: string]> = {
  HPE_INVALID_METHOD: [405, 'method_not_allowed', 'This request method is not supported.'],
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'The request headers are too large.'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'request_too_large', 'The request body has chunk extensions that are too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'The request did not arrive in time.'],
};

/**
 * A server's `clientError` listener. `busy` says a request is running on the socket: an answer written now
 * could land inside its response, so the socket is only closed, as Node itself does once it has answered.
 */
export function refuseUnparsed(err: NodeJS.ErrnoException, socket: Duplex, busy: boolean): void {
  if (busy || !socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code, message] = UNPARSED[err.code ?? ''] ?? [400, 'bad_request', 'The request is not valid HTTP.'];
  refuseOnSocket(socket, status, code, message, status === 405 ? { allow: ALLOW } : {});
}

/** Request bodies pass through as they arrive, cut off once they exceed what any website route accepts. */
async function* capped(req: IncomingMessage, maxBytes: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new Error('request body too large');
    yield chunk;
  }
}

/**
 * Runs Next in a child process on a private Unix socket. The gateway's process then carries none of
 * Next's memory, async-context hooks or rendering work on its hot path, and a website crash cannot take
 * streams in flight down with it: the worker is started again.
 */
export async function startNextWorker(opts: {
  entry: string;
  dev: boolean;
  maxBodyBytes: number;
  log: Logger;
  onInvalidate(e: InvalidationEvent): void;
}): Promise<NextWorker> {
  const dir = mkdtempSync(join(tmpdir(), 'glmgw-next-'));
  const socketPath = join(dir, 'next.sock');
  const pool = new Pool('http://localhost', { socketPath, connections: 128, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 });
  let child: ChildProcess | null = null;
  let up = false;
  let everUp = false;
  let closing = false;
  let restartDelayMs = RESTART_DELAY_MS;
  /** When the pending restart begins: what a visitor is told to wait for (at least a second). */
  let restartAt = 0;
  const retryAfter = () => String(Math.max(1, Math.ceil((restartAt - Date.now()) / 1000)));

  /**
   * Starts the worker; once it has been up, a worker that exits is started again after a pause. A website
   * that dies at every start would otherwise cost a Next boot every second, on the cores the gateway needs.
   */
  function spawnWorker(): Promise<void> {
    // A worker that crashed leaves its socket file behind, and listen() refuses a path that exists.
    rmSync(socketPath, { force: true });
    const proc = fork(opts.entry, [socketPath, ...(opts.dev ? ['--dev'] : [])], { stdio: 'inherit' });
    child = proc;
    let readyAt: number | null = null;
    return new Promise((resolve, reject) => {
      proc.on('message', (m: WorkerMessage) => {
        if (m !== 'ready') return opts.onInvalidate(m.invalidate);
        up = everUp = true;
        readyAt = Date.now();
        resolve();
      });
      proc.once('exit', (code, signal) => {
        up = false;
        if (closing) return;
        if (!everUp) return reject(new Error(`the website process exited with ${code ?? signal} while starting`));
        if (readyAt !== null && Date.now() - readyAt >= STABLE_AFTER_MS) restartDelayMs = RESTART_DELAY_MS;
        const delay = restartDelayMs;
        restartDelayMs = Math.min(2 * restartDelayMs, RESTART_DELAY_MAX_MS);
        restartAt = Date.now() + delay;
        opts.log.error({ code, signal, restartInMs: delay }, 'website process exited; starting it again');
        setTimeout(() => {
          if (!closing) void spawnWorker();
        }, delay).unref();
      });
    });
  }

  await spawnWorker();

  return {
    async handle(req, res) {
      const method = req.method ?? 'GET';
      // Next cannot turn TRACE into a fetch Request (it answers it with 500). TRACK and CONNECT never get
      // this far: see refuseUnparsed and refuseConnect.
      if (method === 'TRACE') {
        return refuse(res, 405, 'method_not_allowed', `${method} is not supported.`, { allow: ALLOW });
      }
      try {
        decodeURIComponent((req.url ?? '/').split('?', 1)[0] ?? '/');
      } catch {
        return refuse(res, 400, 'invalid_path', 'The request path is not valid percent-encoding.');
      }
      if (Number(req.headers['content-length']) > opts.maxBodyBytes) return refuseTooLarge(res, opts.maxBodyBytes);
      if (!up) return refuse(res, 503, 'website_unavailable', 'The website is restarting; retry in a moment.', { 'retry-after': retryAfter() });

      const headers = endToEnd(req.headers);
      // What Next would have read from the socket had the client reached it directly.
      headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '';
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      try {
        const answer = await pool.request({ path: req.url ?? '/', method: method as 'GET', headers, body: hasBody ? Readable.from(capped(req, opts.maxBodyBytes)) : null, signal: abort.signal });
        res.writeHead(answer.statusCode, endToEnd(answer.headers));
        await pipeline(answer.body, res);
      } catch (err) {
        if (abort.signal.aborted) return; // the client left; undici has dropped the request to Next
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const tooLarge = err instanceof Error && err.message === 'request body too large';
        if (tooLarge) return refuseTooLarge(res, opts.maxBodyBytes);
        opts.log.warn({ err: String(err), path: (req.url ?? '').split('?', 1)[0] }, 'website request failed');
        refuse(res, 502, 'website_unavailable', 'The website did not answer; retry in a moment.', { 'retry-after': '1' });
      }
    },

    upgrade(req, socket, head) {
      const upstream = connect(socketPath, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (head.length) upstream.write(head);
        socket.pipe(upstream).pipe(socket);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    },

    async close(graceMs) {
      closing = true;
      // First, and not close(): the website's server waits for every open connection before it exits, and
      // undici had opened a spare one, never used, after a refused upload; the process was then killed 25 s
      // later. Nothing is in flight by now: the caller's own connections are closed.
      await pool.destroy();
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => {
          opts.log.warn({ graceMs }, 'the website process did not stop in time; killing it');
          proc.kill('SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
