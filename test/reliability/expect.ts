import assert from 'node:assert/strict';
import { openAIErrorSchema } from '@glm-gateway/shared';

/** Asserts an OpenAI-shaped error with this status and code and a message in words; returns the message. */
export async function expectOpenAIError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text.slice(0, 300)}`);
  const body = openAIErrorSchema.parse(JSON.parse(text));
  assert.equal(body.error.code, code, body.error.message);
  assert.ok(body.error.message.length > 10, 'the message says what went wrong');
  return body.error.message;
}

/** Polls `read` until `ok` holds or the time is up; returns the last value either way. */
export async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
