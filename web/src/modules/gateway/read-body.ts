import type { IncomingMessage } from 'node:http';
import { fail, type GatewayFailure } from './errors';

export type BodyResult = { ok: true; value: unknown; bytes: number } | { ok: false; failure: GatewayFailure };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON body without ever holding more than `maxBytes` of it. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const type = req.headers['content-type'];
  if (type && !/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)) {
    return { ok: false, failure: fail('unsupported_media_type', `Content-Type must be application/json, not "${type.slice(0, 80)}".`) };
  }
  const tooLarge = fail('request_too_large', `Request body is larger than ${maxBytes} bytes.`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return { ok: false, failure: tooLarge };

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return { ok: false, failure: tooLarge };
    chunks.push(chunk);
  }
  if (size === 0) return { ok: false, failure: fail('invalid_json', 'Request body is empty; expected a JSON object.') };

  let text: string;
  try {
    text = utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
  } catch {
    return { ok: false, failure: fail('invalid_json', 'Request body is not valid UTF-8.') };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown, bytes: size };
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : 'nested too deeply';
    return { ok: false, failure: fail('invalid_json', `Request body is not valid JSON: ${detail}`) };
  }
}
