import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
 *   malformed     send a broken data line after this many chunks
 * or, for clients that send only standard fields, with `fake:{...}` at the end of the last message.
 */
export interface FakeOptions {
  chunks?: number;
  usage?: 'glm' | 'openai' | 'none' | 'zero';
  reasoning?: number;
  status?: number;
  code?: string;
  retryAfter?: number;
  resetAfter?: number;
  delayMs?: number;
  stallBeforeMs?: number;
  malformed?: number;
}

export interface SeenRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeUpstream {
  url: string;
  /** The base URL a gateway should be configured with (includes GLM's path prefix). */
  baseUrl: string;
  apiKey: string;
  requests: SeenRequest[];
  /** Completion tokens the fake has sent, per request id it saw (`x-request-id` is not sent, so by order). */
  sentCompletionTokens: number;
  close(): Promise<void>;
}

export const FAKE_MODELS = ['glm-4.6', 'glm-4.5-air', 'glm-5'];
const BASE_PATH = '/api/paas/v4';
const TOKEN = ' tok';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

export async function startFakeUpstream(apiKey = 'sk-upstream-test-secret-0123456789'): Promise<FakeUpstream> {
  const state: FakeUpstream = {
    url: '',
    baseUrl: '',
    apiKey,
    requests: [],
    sentCompletionTokens: 0,
    close: async () => undefined,
  };

  async function chat(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    const o = (body.fake ?? optionsInText(body)) as FakeOptions;
    if (o.stallBeforeMs) await sleep(o.stallBeforeMs);
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

    if (body.stream !== true) {
      state.sentCompletionTokens += completion;
      const answer: Record<string, unknown> = {
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
    const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    const pieces: { delta: Record<string, unknown> }[] = [
      ...Array.from({ length: reasoning }, () => ({ delta: { reasoning_content: TOKEN } })),
      ...Array.from({ length: chunks }, () => ({ delta: { content: TOKEN } })),
    ];
    for (let i = 0; i < pieces.length; i++) {
      if (res.destroyed) return;
      if (o.resetAfter !== undefined && i === o.resetAfter) {
        res.socket?.destroy();
        return;
      }
      if (o.malformed !== undefined && i === o.malformed) {
        res.write('data: {"choices": [ this is not json\n\n');
        res.end();
        return;
      }
      const last = i === pieces.length - 1;
      const chunk: Record<string, unknown> = { ...base, choices: [{ index: 0, delta: { ...(i === 0 ? { role: 'assistant' } : {}), ...pieces[i]!.delta }, finish_reason: last ? 'stop' : null }] };
      if (last && style === 'glm') chunk.usage = usage;
      if (last && style === 'zero') chunk.usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      state.sentCompletionTokens += 1;
      send(chunk);
      if (o.delayMs) await sleep(o.delayMs);
    }
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    if (style === 'openai' && wantsUsage) send({ ...base, choices: [], usage });
    res.end('data: [DONE]\n\n');
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
      state.requests.push({ path, headers: req.headers, body });
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
        void chat(req, res, body).catch(() => res.destroy());
        return;
      }
      res.writeHead(404).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.baseUrl = `${state.url}${BASE_PATH}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
