import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { fail, type GatewayFailure } from './errors';

/** Why a body was refused. The codes are error codes of both APIs (413, 415 and 400 in `gatewayErrorCodes`). */
export interface BodyRefusal {
  code: 'request_too_large' | 'unsupported_media_type' | 'invalid_json';
  message: string;
}

/** A request body as both servers see it: Node's IncomingMessage on /v1, a fetch Request in Next's routes. */
export interface RawBody {
  contentType: string | null | undefined;
  contentLength: string | null | undefined;
  chunks: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export type TextResult = { ok: true; text: string; bytes: number } | { ok: false; refusal: BodyRefusal };
export type JsonResult = { ok: true; value: unknown; bytes: number } | { ok: false; refusal: BodyRefusal };
export type BodyResult = { ok: true; value: unknown; bytes: number } | { ok: false; failure: GatewayFailure };

/**
 * Deeper than any real request (OpenAI tool schemas nest a few dozen levels at most), and far below where
 * V8's recursive JSON.stringify and zod run out of stack: a body of 100,000 `[` parses fine but would crash
 * the first code that walks it.
 */
export const MAX_JSON_DEPTH = 128;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_TYPE = /^application\/([\w.+-]*\+)?json\s*(;|$)/i;

/** Reads a body as strict UTF-8 without ever holding more than `maxBytes` of it. */
export async function readBodyText(body: RawBody, maxBytes: number): Promise<TextResult> {
  const tooLarge: TextResult = { ok: false, refusal: { code: 'request_too_large', message: `Request body is larger than ${maxBytes} bytes.` } };
  const declared = Number(body.contentLength);
  if (body.contentLength && Number.isFinite(declared) && declared > maxBytes) return tooLarge;

  const read = body.chunks instanceof Readable ? await readStream(body.chunks, maxBytes) : await readIterable(body.chunks, maxBytes);
  if (!read) return tooLarge;
  const { chunks, size } = read;
  try {
    return { ok: true, text: utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)), bytes: size };
  } catch {
    return { ok: false, refusal: { code: 'invalid_json', message: 'Request body is not valid UTF-8.' } };
  }
}

type Chunks = { chunks: Uint8Array[]; size: number } | null;

/**
 * Collects a Node stream (the gateway's request) by its events: an async iterator costs a promise per chunk
 * and, with its setup, about 2% of the gateway's CPU. Past `maxBytes` it stops reading and returns null; the
 * server still answers, and the client stops sending.
 */
function readStream(stream: Readable, maxBytes: number): Promise<Chunks> {
  // The client left while the request waited (for its key to be looked up): no event will come any more.
  if (stream.destroyed) return Promise.reject(new Error('the request closed before its body was read'));
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const settle = (err: Error | null, result: Chunks) => {
      stream.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (err) reject(err);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      stream.pause();
      settle(null, null);
    };
    const onEnd = () => settle(null, { chunks, size });
    const onClose = () => settle(new Error('the request closed before its body ended'), null);
    stream.on('data', onData).once('end', onEnd).once('error', settle).once('close', onClose);
  });
}

async function readIterable(iterable: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<Chunks> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of iterable) {
    size += chunk.length;
    // Leaving the loop stops reading; the server still answers, and the client stops sending.
    if (size > maxBytes) return null;
    chunks.push(chunk);
  }
  return { chunks, size };
}

/** Reads a JSON body: a JSON content type (or none), at most `maxBytes`, UTF-8, nested at most MAX_JSON_DEPTH. */
export async function readJson(body: RawBody, maxBytes: number): Promise<JsonResult> {
  if (body.contentType && !JSON_TYPE.test(body.contentType)) {
    return { ok: false, refusal: { code: 'unsupported_media_type', message: `Content-Type must be application/json, not ${JSON.stringify(body.contentType.slice(0, 80))}.` } };
  }
  const read = await readBodyText(body, maxBytes);
  if (!read.ok) return read;
  if (read.bytes === 0) return { ok: false, refusal: { code: 'invalid_json', message: 'Request body is empty; expected a JSON object.' } };
  if (nestingDepth(read.text) > MAX_JSON_DEPTH) {
    return { ok: false, refusal: { code: 'invalid_json', message: `Request body is nested more than ${MAX_JSON_DEPTH} levels deep.` } };
  }
  try {
    return { ok: true, value: JSON.parse(read.text) as unknown, bytes: read.bytes };
  } catch (err) {
    return { ok: false, refusal: { code: 'invalid_json', message: `Request body is not valid JSON: ${err instanceof SyntaxError ? err.message : 'unreadable'}` } };
  }
}

/** The gateway's reader: the same checks, answered as OpenAI-shaped failures. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const read = await readJson({ contentType: req.headers['content-type'], contentLength: req.headers['content-length'], chunks: req }, maxBytes);
  return read.ok ? read : { ok: false, failure: fail(read.refusal.code, read.refusal.message) };
}

/**
 * The deepest bracket nesting in JSON text, ignoring brackets inside strings. Stops counting once past the
 * limit; malformed text is left for JSON.parse to describe.
 */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}
