import { fail, type GatewayFailure } from './errors';

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Maps an upstream non-2xx answer to what the client is told. GLM puts a business code in the body
 * (1211 unknown model, 1301 blocked content, 1113 no balance, 1302-1305 rate limits); its own wording may name
 * the operator's account, so only our words go out, with the upstream's code for support.
 */
export function upstreamFailure(status: number, bodyText: string, retryAfter: string | undefined): GatewayFailure {
  const code = businessCode(bodyText);
  const ref = code ? ` (upstream code ${code})` : '';
  if (code === '1211' || status === 404) return fail('model_not_found', `The model provider does not offer this model${ref}.`);
  if (code === '1301') return fail('content_filtered', `The model provider blocked this content${ref}.`);
  if (code === '1113') return fail('service_unavailable', `The gateway's model provider account cannot serve requests right now${ref}.`);
  if (status === 429 || (code && /^130[2-5]$/.test(code))) {
    return fail('upstream_rate_limited', `The model provider is rate limiting this gateway; retry shortly${ref}.`, retryAfterSeconds(retryAfter));
  }
  if (status === 413) return fail('request_too_large', `The model provider refused the request as too large${ref}.`);
  if (status === 401 || status === 403) return fail('upstream_error', `The gateway could not authenticate with its model provider${ref}.`);
  if (status >= 400 && status < 500) {
    const why = safeReason(bodyText);
    return fail('invalid_request', `The model provider rejected the request as invalid${ref}${why ? `: ${why}` : '.'}`);
  }
  return fail('upstream_error', `The model provider failed with status ${status}${ref}.`);
}

/** Retry-After is either seconds or an HTTP date (RFC 9110); clients get whole seconds, at least one. */
function retryAfterSeconds(value: string | undefined, now = Date.now()): number {
  if (!value) return 1;
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) && seconds > 1 ? Math.ceil(seconds) : 1;
}

export async function readErrorBody(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < MAX_ERROR_BODY) text += chunk.toString('utf8');
  }
  return text.slice(0, MAX_ERROR_BODY);
}

/**
 * A 400's reason usually names the offending parameter, which the caller needs. URLs, e-mail addresses and
 * long opaque tokens (keys, account or request ids) are cut out first.
 */
function safeReason(text: string): string {
  let message: unknown;
  try {
    message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
  } catch {
    return '';
  }
  if (typeof message !== 'string') return '';
  return message
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '[url]')
    .replace(/\S+@\S+/g, '[address]')
    .replace(/[A-Za-z0-9_.-]{24,}/g, '[id]')
    .replace(/[\r\n\t]+/g, ' ')
    .slice(0, 300)
    .trim();
}

function businessCode(text: string): string | null {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' || typeof code === 'number' ? String(code).slice(0, 16).replace(/[^\w.-]/g, '') : null;
  } catch {
    return null;
  }
}
