import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Usage } from '@glm-gateway/shared';
import { fail, sseErrorEvent, type GatewayFailure } from './errors';
import { SseSplitter, withoutBom } from './sse';
import { transportFailure, type UpstreamResponse } from './upstream';
import { upstreamFailure } from './upstream-errors';

/** What reached the client, which is what gets billed. */
export interface RelayOutcome {
  /** Usage the upstream reported, kept only when the event carrying it was delivered. */
  usage: Usage | null;
  /** Completion text (answer, reasoning, tool arguments) the client received, for estimating when usage is absent. */
  delivered: string[];
  ttftMs: number | null;
  aborted: boolean;
  failure: GatewayFailure | null;
}

export interface RelayContext {
  requestId: string;
  startedAt: number;
  /** Hide the usage-only chunk we asked the upstream for on the client's behalf. */
  hideUsageChunk: boolean;
  maxResponseBytes: number;
  clientIdleTimeoutMs: number;
  clientGone(): boolean;
}

type Json = Record<string, unknown>;

// Whatever a provider sends is read defensively: a field of an unexpected shape is ignored, never thrown on.
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON text that holds an object, or null: anything else (not JSON, `null`, an array, a number) is malformed here. */
function parseObject(text: string): Json | null {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/**
 * The usage a provider reported, rebuilt from the counts that are counts: null without prompt and completion
 * tokens (the answer is then estimated), and an optional count of another kind left out, never billed.
 */
function usageOf(v: unknown): Usage | null {
  if (!isObject(v) || !isCount(v.prompt_tokens) || !isCount(v.completion_tokens)) return null;
  const usage: Usage = { prompt_tokens: v.prompt_tokens, completion_tokens: v.completion_tokens };
  if (isCount(v.total_tokens)) usage.total_tokens = v.total_tokens;
  const cached = isObject(v.prompt_tokens_details) ? v.prompt_tokens_details.cached_tokens : undefined;
  if (isCount(cached)) usage.prompt_tokens_details = { cached_tokens: cached };
  return usage;
}

function collectText(parsed: Json, into: string[]): void {
  if (!Array.isArray(parsed.choices)) return;
  for (const choice of parsed.choices as unknown[]) {
    if (!isObject(choice)) continue;
    const part = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : null;
    if (!part) continue;
    if (typeof part.content === 'string') into.push(part.content);
    if (typeof part.reasoning_content === 'string') into.push(part.reasoning_content);
    if (!Array.isArray(part.tool_calls)) continue;
    for (const call of part.tool_calls as unknown[]) {
      const fn = isObject(call) && isObject(call.function) ? call.function : null;
      if (typeof fn?.name === 'string') into.push(fn.name);
      if (typeof fn?.arguments === 'string') into.push(fn.arguments);
    }
  }
}

/**
 * Waits until the client has taken what was written. A client that stops reading is cut off after
 * `timeoutMs`: it would otherwise hold its stream, the upstream connection and its limit hold for ever.
 */
function waitForDrain(res: ServerResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => res.destroy(), timeoutMs);
    res.once('drain', done);
    res.once('close', done);
  });
}

/**
 * Hands each chunk of an upstream body to `onChunk` as it arrives, in flowing mode: an async iterator would
 * cost a promise and several ticks per chunk, thousands of times a second on a busy gateway. `onChunk`
 * returns false to stop reading (the body is then destroyed, as leaving a for-await loop would), or a
 * promise to pause the body until it settles (the client's backpressure). Rejects on a transport error.
 */
function readEach(body: Readable, onChunk: (chunk: Buffer) => boolean | Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown) => {
      body.off('data', onData);
      body.off('end', finish);
      body.off('error', finish);
      if (err) reject(err);
      else resolve();
    };
    const stop = (err?: unknown) => {
      finish(err);
      // undici reports a body destroyed before its end as an error; nobody is listening for it any more.
      body.on('error', () => undefined);
      body.destroy();
    };
    const onData = (chunk: Buffer) => {
      let more: boolean | Promise<void>;
      try {
        more = onChunk(chunk);
      } catch (err) {
        // Thrown here it would escape the event emitter and end the process, every other stream with it.
        stop(err);
        return;
      }
      if (more === false) {
        stop();
      } else if (more !== true) {
        body.pause();
        void more.then(() => body.resume());
      }
    };
    body.on('data', onData);
    body.once('end', finish);
    body.once('error', finish);
  });
}

const DELIVERED_PIECES = 64;

const malformed = () => fail('upstream_error', 'The model provider sent a malformed stream.');
const tooLarge = () => fail('upstream_error', 'The answer exceeded the size this gateway relays.');

/**
 * Relays an SSE answer event by event as it arrives. Only whole events are written, so when the upstream
 * breaks mid-stream the client gets exactly one clean OpenAI-shaped error event and the end of the stream.
 */
export async function relayStream(upstream: UpstreamResponse, res: ServerResponse, ctx: RelayContext): Promise<RelayOutcome> {
  const out: RelayOutcome = { usage: null, delivered: [], ttftMs: null, aborted: false, failure: null };
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-request-id': ctx.requestId,
  });
  const splitter = new SseSplitter();
  // Counted per event, so the client gets every whole event that fits under the cap however the network
  // happened to cut the bytes.
  let bytes = 0;
  // out.delivered before this index is joined blocks, after it single pieces.
  let joined = 0;
  try {
    await readEach(upstream.body, (chunk) => {
      if (ctx.clientGone()) return false;
      const send: Buffer[] = [];
      const texts: string[] = [];
      let usage: Usage | null = null;
      for (const ev of splitter.push(chunk)) {
        bytes += ev.bytes.length;
        if (bytes > ctx.maxResponseBytes) {
          out.failure = tooLarge();
          break;
        }
        if (ev.data === '' || ev.data === '[DONE]') {
          send.push(ev.bytes);
          continue;
        }
        const parsed = parseObject(ev.data);
        if (!parsed) {
          out.failure = malformed();
          break;
        }
        if (parsed.error !== undefined) {
          out.failure = upstreamFailure(502, ev.data, undefined);
          break;
        }
        collectText(parsed, texts);
        const reported = usageOf(parsed.usage);
        if (reported) usage = reported;
        // The usage-only chunk asked for on the client's behalf stays hidden whether or not its counts are usable.
        if (ctx.hideUsageChunk && isObject(parsed.usage) && !(Array.isArray(parsed.choices) && parsed.choices.length > 0)) continue;
        send.push(ev.bytes);
      }
      // An event that never ends must not grow without bound either.
      if (!out.failure && bytes + splitter.pendingLength() > ctx.maxResponseBytes) out.failure = tooLarge();
      let flushed = true;
      // Usage counts once its event reached the client, or, for the usage chunk hidden from it, once the
      // client is known to be there still.
      if (!ctx.clientGone()) {
        if (send.length > 0) {
          out.ttftMs ??= performance.now() - ctx.startedAt;
          flushed = res.write(send.length === 1 ? send[0] : Buffer.concat(send));
        }
        for (const text of texts) out.delivered.push(text);
        // A long answer arrives as thousands of tiny strings, each a few characters of text behind ~32 bytes
        // of string header and array slot: every DELIVERED_PIECES of them are joined into one block.
        if (out.delivered.length - joined >= DELIVERED_PIECES) {
          out.delivered.push(out.delivered.splice(joined).join(''));
          joined = out.delivered.length;
        }
        if (usage) out.usage = usage;
      }
      if (out.failure) return false;
      return flushed || waitForDrain(res, ctx.clientIdleTimeoutMs);
    });
  } catch (err) {
    if (!ctx.clientGone()) out.failure = transportFailure(err);
  }
  out.aborted = ctx.clientGone();
  if (out.aborted) return out;
  if (!out.failure && splitter.rest().trim() !== '' && out.usage === null) out.failure = malformed();
  if (out.failure) res.write(sseErrorEvent(out.failure));
  res.end();
  return out;
}

/** Relays a non-streamed answer, reading at most the configured size of it. */
export async function relayJson(upstream: UpstreamResponse, res: ServerResponse, ctx: RelayContext): Promise<RelayOutcome> {
  const out: RelayOutcome = { usage: null, delivered: [], ttftMs: null, aborted: false, failure: null };
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    await readEach(upstream.body, (chunk) => {
      bytes += chunk.length;
      if (bytes > ctx.maxResponseBytes) {
        out.failure = tooLarge();
        return false;
      }
      chunks.push(chunk);
      return true;
    });
  } catch (err) {
    if (!ctx.clientGone()) out.failure = transportFailure(err);
  }
  out.aborted = ctx.clientGone();
  if (out.aborted || out.failure) return out;
  const body = Buffer.concat(chunks, bytes);
  const parsed = parseObject(withoutBom(body.toString('utf8')));
  if (!parsed) {
    out.failure = fail('upstream_error', 'The model provider sent a malformed answer.');
    return out;
  }
  out.ttftMs = performance.now() - ctx.startedAt;
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'x-request-id': ctx.requestId,
  });
  res.end(body);
  collectText(parsed, out.delivered);
  out.usage = usageOf(parsed.usage);
  return out;
}
