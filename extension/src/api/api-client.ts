import {
  chatCompletionChunkSchema,
  connectRequestCreatedSchema,
  meSchema,
  modelListSchema,
  openAIErrorSchema,
  apiErrorSchema,
  tokenResponseSchema,
  type ConnectRequest,
  type ConnectRequestCreated,
  type Me,
  type TokenResponse,
} from '@glm-gateway/shared';
import type { z } from 'zod';
import { sseData } from './sse';

export type ApiErrorKind = 'auth' | 'rate_limit' | 'server' | 'network' | 'bad_request';

/** A failed call, classified the way the chat shows it to a person. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status: number | null,
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

export interface ChatDelta {
  content: string;
  reasoning: string;
}

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The only code that talks to the server. Uses the extension host's global `fetch`, so VS Code's proxy and
 * certificate settings apply, and validates every answer with the shared schemas.
 */
export class ApiClient {
  constructor(
    private readonly serverUrl: () => string,
    private readonly token: () => Promise<string | undefined>,
  ) {}

  async models(): Promise<string[]> {
    const list = await this.json('/v1/models', { method: 'GET' }, modelListSchema, true);
    return list.data.map((m) => m.id);
  }

  me(): Promise<Me> {
    return this.json('/v1/me', { method: 'GET' }, meSchema, true);
  }

  async revokeOwnKey(): Promise<void> {
    const res = await this.send('/v1/me/key', { method: 'DELETE' }, true);
    if (!res.ok && res.status !== 401) throw await toApiError(res);
  }

  registerSignIn(request: ConnectRequest): Promise<ConnectRequestCreated> {
    return this.json('/api/extension/connect-requests', { method: 'POST', body: JSON.stringify(request) }, connectRequestCreatedSchema, false);
  }

  exchangeCode(code: string, codeVerifier: string): Promise<TokenResponse> {
    return this.json('/api/extension/token', { method: 'POST', body: JSON.stringify({ code, codeVerifier }) }, tokenResponseSchema, false);
  }

  /** Streams a chat answer; the returned iterator ends when the answer does, or throws an ApiError. */
  async *chat(model: string, messages: ChatTurn[], signal: AbortSignal): AsyncGenerator<ChatDelta> {
    const res = await this.send('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model, messages, stream: true }), signal }, true);
    if (!res.ok || !res.body) throw await toApiError(res);
    for await (const data of sseData(res.body)) {
      if (data === '[DONE]') return;
      const raw: unknown = JSON.parse(data);
      const failure = openAIErrorSchema.safeParse(raw);
      if (failure.success) throw new ApiError('server', failure.data.error.message, null);
      const chunk = chatCompletionChunkSchema.parse(raw);
      const delta = chunk.choices[0]?.delta;
      const out = { content: delta?.content ?? '', reasoning: delta?.reasoning_content ?? '' };
      if (out.content || out.reasoning) yield out;
    }
  }

  private async send(path: string, init: RequestInit, authenticated: boolean): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (authenticated) {
      const token = await this.token();
      if (!token) throw new ApiError('auth', 'You are not signed in to the GLM Gateway.', 401);
      headers.authorization = `Bearer ${token}`;
    }
    try {
      return await fetch(new URL(path, this.serverUrl()), { ...init, headers });
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') throw err;
      throw new ApiError('network', `Could not reach ${new URL(this.serverUrl()).host}: ${(err as Error).message}`, null);
    }
  }

  private async json<T>(path: string, init: RequestInit, schema: z.ZodType<T>, authenticated: boolean): Promise<T> {
    const res = await this.send(path, init, authenticated);
    if (!res.ok) throw await toApiError(res);
    const parsed = schema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new ApiError('server', `The server sent an unexpected answer for ${path}.`, res.status);
    return parsed.data;
  }
}

/** Reads either error shape the server uses (OpenAI's on /v1, ours on /api) into words for the chat. */
async function toApiError(res: Response): Promise<ApiError> {
  const body: unknown = await res.json().catch(() => null);
  const message = openAIErrorSchema.safeParse(body).data?.error.message ?? apiErrorSchema.safeParse(body).data?.error.message ?? `The server answered ${res.status}.`;
  if (res.status === 401) return new ApiError('auth', message, 401);
  if (res.status === 429) {
    const retry = Number(res.headers.get('retry-after'));
    return new ApiError('rate_limit', message, 429, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  if (res.status >= 500) return new ApiError('server', message, res.status);
  return new ApiError('bad_request', message, res.status);
}
