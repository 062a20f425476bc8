import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for the external GLM / OpenAI-compatible service, and the only fake in the test suite.
 * Each request steers it with a `fake` object in its body (which the gateway must pass through untouched):
 *   chunks        how many content chunks to stream (each is the text " tok", one token)
 *   usage         'glm' (usage on the finish chunk), 'openai' (final usage-only chunk, only if
 *                 stream_options.include_usage), 'none', or 'zero' (explicit zero usage)
 *   reasoning     reasoning_content chunks sent before the answer (GLM thinking)
 *   status        answer with this HTTP status and a GLM-shaped error body (with `code`)
 *   code          GLM business code for that error body
 *   retryAfter    Retry-After header on an error
 *   resetAfter    destroy the connection after this many chunks
 *   delayMs       delay between chunks
 *   stallBeforeMs delay before the response headers
 *   stallAfter    stop sending after this many chunks, for `stallMs` (default: until the client gives up)
 *   malformed     send a broken data line after this many chunks, then end
 *   malformedText what that line carries instead of unparseable JSON: `null`, or JSON of an unexpected shape
 *   errorAfter    send an in-stream error event (GLM's shape, with `code`) after this many chunks, then end
 *   padding       add a field of this many bytes to every chunk (or the whole answer): an oversized answer
 *                 whose token counts stay the same
 *   text          the content of each chunk instead of " tok" (still counted as one token)
 *   crlf          end stream lines with CRLF instead of LF
 *   pieceBytes    write each event in pieces of this many bytes, a tick apart, so the network cuts events
 *                 and multi-byte characters anywhere
 * or, for clients that send only standard fields, with `fake:{...}` at the end of the last message.
 */
export interface FakeOptions {
  chunks?: number;
  usage?: 'glm' | 'openai' | 'none' | 'zero';
  reasoning?: number;
  status?: number;
  code?: string;
  /** Seconds, or an HTTP date. */
  retryAfter?: number | string;
  resetAfter?: number;
  delayMs?: number;
  stallBeforeMs?: number;
  malformed?: number;
  malformedText?: string;
  stallAfter?: number;
  stallMs?: number;
  errorAfter?: number;
  padding?: number;
  text?: string;
  crlf?: boolean;
  pieceBytes?: number;
}

export interface SeenRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** The gateway's request id (`x-request-id`), to match this request with its usage record. */
  requestId: string | undefined;
  /** Completion tokens (answer and reasoning chunks) sent for this request so far. */
  sentTokens: number;
}

export interface FakeUpstream {
  url: string;
  /** The base URL a gateway should be configured with (includes GLM's path prefix). */
  baseUrl: string;
  apiKey: string;
  requests: SeenRequest[];
  /** Connections open to the fake right now: what the gateway's pool holds, idle or busy. */
  openSockets(): number;
  /** Answers still being written: a stream the gateway abandoned without closing its connection stays here. */
  activeResponses(): number;
  /** Stops listening and drops every connection, so connecting is refused until `online()`. */
  offline(): Promise<void>;
  /** Listens again on the same port. */
  online(): Promise<void>;
  close(): Promise<void>;
}

export const FAKE_MODELS = ['glm-4.6', 'glm-4.5-air', 'glm-5'];
const BASE_PATH = '/api/paas/v4';
const TOKEN = ' tok';

/** Waits `ms`, or less if the response closes first, so a stalled answer never outlives its connection. */
function pause(ms: number, res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

function promptTokensOf(body: Record<string, unknown>): number {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages.reduce<number>((n, m) => n + String((m as { content?: unknown }).content ?? '').split(/\s+/).filter(Boolean).length, 0);
}

/**
 * Clients that send only standard fields (the VS Code extension) steer the fake with `fake:{...}` at the
 * end of their last message instead.
 */
function optionsInText(body: Record<string, unknown>): FakeOptions {
  const messages = Array.isArray(body.messages) ? (body.messages as { content?: unknown }[]) : [];
  const match = /fake:(\{.*\})\s*$/.exec(String(messages.at(-1)?.content ?? ''));
  if (!match?.[1]) return {};
  try {
    return JSON.parse(match[1]) as FakeOptions;
  } catch {
    return {};
  }
}

export interface FakeUpstreamOptions {
  apiKey?: string;
  /** Keep every request in `requests` (tests read them); a benchmark's millions would only grow the heap. */
  recordRequests?: boolean;
}

export async function startFakeUpstream({ apiKey = 'sk-upstream-test-secret-0123456789', recordRequests = true }: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const state: FakeUpstream = {
    url: '',
    baseUrl: '',
    apiKey,
    requests: [],
    openSockets: () => sockets.size,
    activeResponses: () => active,
    offline: async () => undefined,
    online: async () => undefined,
    close: async () => undefined,
  };
  const sockets = new Set<Socket>();
  let active = 0;

  async function chat(res: ServerResponse, body: Record<string, unknown>, seen: SeenRequest): Promise<void> {
    const o = (body.fake ?? optionsInText(body)) as FakeOptions;
    if (o.stallBeforeMs) await pause(o.stallBeforeMs, res);
    if (res.destroyed) return;
    if (o.status) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (o.retryAfter) headers['retry-after'] = String(o.retryAfter);
      res.writeHead(o.status, headers);
      res.end(JSON.stringify({ error: { code: o.code ?? String(o.status), message: `fake failure for account acct_9f8e7d6c5b4a39281706 at ${state.url}` } }));
      return;
    }
    const model = String(body.model);
    const chunks = o.chunks ?? 3;
    const reasoning = o.reasoning ?? 0;
    const prompt = promptTokensOf(body);
    const completion = chunks + reasoning;
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const style = o.usage ?? 'glm';
    const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
    const base = { id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };

    const padding = o.padding ? { padding: 'x'.repeat(o.padding) } : {};

    if (body.stream !== true) {
      seen.sentTokens += completion;
      const answer: Record<string, unknown> = {
        ...padding,
        id,
        object: 'chat.completion',
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: TOKEN.repeat(chunks), ...(reasoning ? { reasoning_content: TOKEN.repeat(reasoning) } : {}) }, finish_reason: 'stop' }],
      };
      if (style !== 'none') answer.usage = style === 'zero' ? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } : usage;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const eol = o.crlf ? '\r\n' : '\n';
    const write = async (event: string): Promise<void> => {
      if (!o.pieceBytes) {
        res.write(event);
        return;
      }
      const bytes = Buffer.from(event);
      for (let at = 0; at < bytes.length && !res.destroyed; at += o.pieceBytes) {
        res.write(bytes.subarray(at, at + o.pieceBytes));
        await new Promise((r) => setImmediate(r));
      }
    };
    const send = (payload: unknown) => write(`data: ${JSON.stringify(payload)}${eol}${eol}`);
    const pieces: { delta: Record<string, unknown> }[] = [
      ...Array.from({ length: reasoning }, () => ({ delta: { reasoning_content: TOKEN } })),
      ...Array.from({ length: chunks }, () => ({ delta: { content: o.text ?? TOKEN } })),
    ];
    for (let i = 0; i < pieces.length; i++) {
      if (o.stallAfter !== undefined && i === o.stallAfter) await pause(o.stallMs ?? 600_000, res);
      if (res.destroyed) return;
      if (o.resetAfter !== undefined && i === o.resetAfter) {
        res.socket?.destroy();
        return;
      }
      if (o.malformed !== undefined && i === o.malformed) {
        res.write(`data: ${o.malformedText ?? '{"choices": [ this is not json'}\n\n`);
        res.end();
        return;
      }
      if (o.errorAfter !== undefined && i === o.errorAfter) {
        await send({ error: { code: o.code ?? '500', message: `fake failure for account acct_9f8e7d6c5b4a39281706 at ${state.url}` } });
        res.end();
        return;
      }
      const last = i === pieces.length - 1;
      const chunk: Record<string, unknown> = { ...base, ...padding, choices: [{ index: 0, delta: { ...(i === 0 ? { role: 'assistant' } : {}), ...pieces[i]!.delta }, finish_reason: last ? 'stop' : null }] };
      if (last && style === 'glm') chunk.usage = usage;
      if (last && style === 'zero') chunk.usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      seen.sentTokens += 1;
      await send(chunk);
      if (o.delayMs) await pause(o.delayMs, res);
    }
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    if (style === 'openai' && wantsUsage) await send({ ...base, choices: [], usage });
    const done = `data: [DONE]${eol}${eol}`;
    if (o.pieceBytes) await write(done);
    res.end(o.pieceBytes ? undefined : done);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: '1214', message: 'bad json' } }));
        return;
      }
      const requestId = req.headers['x-request-id'];
      const seen: SeenRequest = { path, headers: req.headers, body, requestId: typeof requestId === 'string' ? requestId : undefined, sentTokens: 0 };
      if (recordRequests) state.requests.push(seen);
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: '1002', message: 'invalid api key' } }));
        return;
      }
      if (req.method === 'GET' && path === `${BASE_PATH}/models`) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: FAKE_MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'z-ai' })) }));
        return;
      }
      if (req.method === 'POST' && path === `${BASE_PATH}/chat/completions`) {
        if (!FAKE_MODELS.includes(String(body.model))) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: '1211', message: 'model not found' } }));
          return;
        }
        active += 1;
        res.once('close', () => (active -= 1));
        void chat(res, body, seen).catch(() => res.destroy());
        return;
      }
      res.writeHead(404).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.baseUrl = `${state.url}${BASE_PATH}`;
  state.offline = stop;
  state.online = () => (server.listening ? Promise.resolve() : listen(port));
  state.close = stop;
  return state;
}
