import type { IncomingMessage, ServerResponse } from 'node:http';
import { chatCompletionRequestSchema, gatewayErrorCodes, type ChatCompletionRequest, type Me, type ModelList, type Usage } from '@glm-gateway/shared';
import { newId, utcDay } from '../../lib/ids';
import type { Logger } from '../../lib/logger';
import { isDatabaseUnavailable } from '../db';
import type { RateLimiter, TokenHold } from '../limits';
import { countTokens, promptTexts, type UsageMeter } from '../usage';
import type { Authenticator, Principal } from './authenticate';
import { fail, sendFailure, sendJson, type GatewayFailure } from './errors';
import { CALLER_CONTROLLED_UPSTREAM_FIELDS, type Provider } from './providers';
import { readJsonBody } from './read-body';
import { relayJson, relayStream, type RelayContext, type RelayOutcome } from './relay';
import type { ModelCatalog } from './resolve-model';
import { Cancellation, transportFailure, type UpstreamClient, type UpstreamResponse } from './upstream';
import { readErrorBody, upstreamFailure } from './upstream-errors';

export interface GatewayDeps {
  authenticate: Authenticator;
  limiter: RateLimiter;
  catalog: ModelCatalog;
  upstream: UpstreamClient;
  provider: Provider;
  meter: UsageMeter;
  maxRequestBytes: number;
  maxResponseBytes: number;
  /** How long a client may leave a stream unread before it is cut off: as long as the upstream may be silent. */
  clientIdleTimeoutMs: number;
  /** Tokens held for a request's answer when it sets no `max_tokens`. */
  completionReserveTokens: number;
  /** What a key may learn and do about itself: `GET /v1/me`, `DELETE /v1/me/key` (the extension's status and sign-out). */
  self: { describe(p: Principal): Promise<Me>; revoke(p: Principal): Promise<void> };
  log: Logger;
}

type Route = 'chat' | 'models' | 'me' | 'me_key' | null;

interface MeteredRequest {
  requestId: string;
  startedAt: number;
  principal: Principal;
  chat: ChatCompletionRequest;
  upstreamModel: string;
  /** Tokens the limiter holds for this request until it is metered. */
  hold: TokenHold;
}

/** `/v1/...` and `/api/v1/...` are the same API; query strings are ignored like OpenAI does. */
export function gatewayRoute(url: string | undefined): Route | 'not_gateway' {
  const path = (url ?? '/').split('?', 1)[0] ?? '/';
  const rest = path.startsWith('/v1/') ? path.slice(3) : path.startsWith('/api/v1/') ? path.slice(7) : null;
  if (rest === null) return 'not_gateway';
  if (rest === '/chat/completions') return 'chat';
  if (rest === '/models') return 'models';
  if (rest === '/me') return 'me';
  if (rest === '/me/key') return 'me_key';
  return null;
}

/**
 * The gateway hot path, framework-free:
 * authenticate → readRequest → checkLimits → resolveModel → forward → relay → meter.
 */
export function createGatewayHandler(deps: GatewayDeps) {
  const { log } = deps;

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const startedAt = performance.now();
    const route = gatewayRoute(req.url);
    if (route === null || route === 'not_gateway') {
      return sendFailure(res, fail('not_found', `Unknown API path ${(req.url ?? '').split('?', 1)[0]?.slice(0, 100)}.`), requestId);
    }
    const method = ({ chat: 'POST', models: 'GET', me: 'GET', me_key: 'DELETE' } as const)[route];
    if (req.method !== method) {
      res.setHeader('allow', method);
      return sendFailure(res, fail('method_not_allowed', `Use ${method} for this path.`), requestId);
    }

    const auth = await deps.authenticate(req.headers.authorization);
    if (!auth.ok) return sendFailure(res, auth.failure, requestId);

    if (route === 'me') return sendJson(res, 200, await deps.self.describe(auth.principal), { 'x-request-id': requestId });
    if (route === 'me_key') {
      await deps.self.revoke(auth.principal);
      res.writeHead(204, { 'x-request-id': requestId }).end();
      return;
    }
    if (route === 'models') {
      const created = Math.floor(Date.now() / 1000);
      const body: ModelList = { object: 'list', data: (await deps.catalog.list()).map((id) => ({ id, object: 'model', created, owned_by: 'glm-gateway' })) };
      return sendJson(res, 200, body, { 'x-request-id': requestId });
    }

    const request = await readRequest(req);
    if (!request.ok) return sendFailure(res, request.failure, requestId);
    const chat = request.value;
    // Held against the daily budget while the request runs: about 4 bytes per prompt token, plus the answer.
    const reserve = Math.ceil(request.bytes / 4) + (chat.max_tokens ?? deps.completionReserveTokens);

    const ready = checkReady();
    if (ready) return sendFailure(res, ready, requestId);

    const subject = { keyId: auth.principal.keyId, userId: auth.principal.userId, ...auth.principal.limits };
    const limit = await deps.limiter.admit(subject, reserve);
    if (!limit.ok) {
      const failure = {
        rpm: () => fail('rate_limit_exceeded', `Rate limit of ${subject.rpm} requests per minute reached for this key.`, limit.retryAfterSec),
        daily_tokens: () => fail('daily_token_limit_exceeded', `Daily limit of ${subject.dailyTokens} tokens reached; it resets at 00:00 UTC.`, limit.retryAfterSec),
        daily_tokens_held: () =>
          fail('rate_limit_exceeded', `What is left of today's ${subject.dailyTokens} tokens is held by your requests still running; retry in a few seconds.`, limit.retryAfterSec),
      }[limit.reason]();
      return sendFailure(res, failure, requestId);
    }

    const model = await deps.catalog.resolve(chat.model);
    if (!model.ok) {
      deps.limiter.settle(subject, limit, 0);
      return sendFailure(res, model.failure, requestId);
    }

    await forwardAndMeter(req, res, { requestId, startedAt, principal: auth.principal, chat, upstreamModel: model.upstreamModel, hold: limit });
  }

  async function readRequest(req: IncomingMessage): Promise<{ ok: true; value: ChatCompletionRequest; bytes: number } | { ok: false; failure: GatewayFailure }> {
    const body = await readJsonBody(req, deps.maxRequestBytes);
    if (!body.ok) return body;
    const parsed = chatCompletionRequestSchema.safeParse(body.value);
    if (parsed.success) return { ok: true, value: parsed.data, bytes: body.bytes };
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    return { ok: false, failure: fail('invalid_request', `Invalid request: ${where}: ${issue?.message ?? 'invalid value'}.`) };
  }

  function checkReady(): GatewayFailure | null {
    if (!deps.upstream.configured) return fail('service_unavailable', 'This gateway has no model provider configured yet.');
    if (deps.meter.isSaturated()) return fail('service_unavailable', 'The gateway cannot record usage right now; retry shortly.', 1);
    return null;
  }

  function upstreamBody(chat: ChatCompletionRequest, upstreamModel: string): { body: string; hideUsageChunk: boolean } {
    const out: Record<string, unknown> = Object.fromEntries(Object.entries(chat).filter(([field]) => !CALLER_CONTROLLED_UPSTREAM_FIELDS.has(field)));
    out.model = upstreamModel;
    let hideUsageChunk = false;
    if (chat.stream && deps.provider.requestStreamUsage && chat.stream_options?.include_usage !== true) {
      out.stream_options = { ...chat.stream_options, include_usage: true };
      hideUsageChunk = true;
    }
    return { body: JSON.stringify(out), hideUsageChunk };
  }

  async function forwardAndMeter(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: MeteredRequest,
  ): Promise<void> {
    const { body, hideUsageChunk } = upstreamBody(ctx.chat, ctx.upstreamModel);
    const cancel = new Cancellation();
    let finished = false;
    const onClose = () => {
      if (!finished) cancel.abort();
    };
    res.on('close', onClose);
    const relayCtx: RelayContext = {
      requestId: ctx.requestId,
      startedAt: ctx.startedAt,
      hideUsageChunk,
      maxResponseBytes: deps.maxResponseBytes,
      clientIdleTimeoutMs: deps.clientIdleTimeoutMs,
      // A client's FIN makes Node end the socket before 'close' fires; writes after that would go nowhere
      // yet be billed as delivered.
      clientGone: () => cancel.aborted || res.destroyed || res.socket?.writable === false,
    };

    const outcome = await forward(body, res, relayCtx, cancel, ctx.requestId, ctx.chat.stream === true);
    finished = true;
    res.off('close', onClose);

    let status = 200;
    if (outcome.failure) {
      status = gatewayErrorCodes[outcome.failure.code].status;
      if (!res.headersSent) sendFailure(res, outcome.failure, ctx.requestId);
    } else if (outcome.aborted) {
      status = 499;
      res.destroy(); // the client is gone; do not leave its socket half-open
    }
    await meter(ctx, outcome, status);
  }

  /** Sends the request upstream and relays the answer; every way it can end comes back as an outcome. */
  async function forward(body: string, res: ServerResponse, relayCtx: RelayContext, signal: Cancellation, requestId: string, stream: boolean): Promise<RelayOutcome> {
    const ended = (failure: GatewayFailure | null): RelayOutcome => ({ usage: null, delivered: [], ttftMs: null, aborted: relayCtx.clientGone(), failure });
    let upstream: UpstreamResponse;
    try {
      upstream = await deps.upstream.chatCompletions(body, signal, requestId);
    } catch (err) {
      return ended(relayCtx.clientGone() ? null : transportFailure(err));
    }
    if (upstream.statusCode === 200) return (stream ? relayStream : relayJson)(upstream, res, relayCtx);
    const text = await readErrorBody(upstream.body as AsyncIterable<Buffer>).catch(() => '');
    const retryAfter = upstream.headers['retry-after'];
    log.warn({ requestId, upstreamStatus: upstream.statusCode }, 'upstream refused request');
    return ended(upstreamFailure(upstream.statusCode, text, typeof retryAfter === 'string' ? retryAfter : undefined));
  }

  async function meter(
    ctx: MeteredRequest,
    outcome: RelayOutcome,
    status: number,
  ): Promise<void> {
    const exact = outcome.usage;
    const nothingDelivered = outcome.delivered.length === 0 && !exact;
    // An upstream refusal or a failure before any output costs nothing; everything else is billed as delivered.
    const billable = !(outcome.failure && nothingDelivered && !outcome.aborted);
    let usage: Usage = exact ?? { prompt_tokens: 0, completion_tokens: 0 };
    if (!exact && billable) {
      usage = {
        prompt_tokens: await countTokens(promptTexts(ctx.chat.messages)),
        completion_tokens: await countTokens(outcome.delivered),
      };
    }
    const total = usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens;
    const at = new Date();
    deps.meter.record({
      _id: ctx.requestId,
      userId: ctx.principal.userId,
      keyId: ctx.principal.keyId,
      model: ctx.upstreamModel,
      day: utcDay(at),
      at,
      status,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      totalTokens: total,
      cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
      latencyMs: Math.round(performance.now() - ctx.startedAt),
      ttftMs: outcome.ttftMs === null ? null : Math.round(outcome.ttftMs),
      stream: ctx.chat.stream === true,
      aborted: outcome.aborted,
      estimated: !exact && billable,
    });
    deps.limiter.settle({ keyId: ctx.principal.keyId, userId: ctx.principal.userId, ...ctx.principal.limits }, ctx.hold, total);
  }

  /** Settles once the request is answered and metered (never rejects): shutdown waits on it. */
  return function handleGatewayRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newId('req');
    return handle(req, res, requestId).catch((err: unknown) => {
      const failure = isDatabaseUnavailable(err)
        ? fail('service_unavailable', 'The gateway database is unavailable; retry shortly.', 1)
        : fail('internal_error', `Internal error; quote request id ${requestId} to the operator.`);
      log.error({ requestId, err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'gateway request failed');
      sendFailure(res, failure, requestId);
    });
  };
}
