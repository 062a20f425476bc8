import { LRUCache } from 'lru-cache';
import { hashKey, looksLikeKey, judgeKey, type ApiKeyDoc, type KeyService } from '../keys';
import type { Invalidation } from '../invalidation';
import type { UserDoc, UserLimits, UserService } from '../users';
import { fail, type GatewayFailure } from './errors';

export interface Principal {
  keyId: string;
  userId: string;
  limits: UserLimits;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; failure: GatewayFailure };

type Cached = { key: ApiKeyDoc | null; user: UserDoc | null; credits: number };

export type Authenticator = (authorization: string | undefined) => Promise<AuthResult>;

/**
 * Resolves a gateway key to its owner. Keys and users are cached by key hash; revocations and suspensions
 * evict them here at once and on other instances within one invalidation poll.
 */
export function createAuthenticator(deps: {
  keys: Pick<KeyService, 'findByHash'>;
  users: Pick<UserService, 'findById'>;
  invalidation: Invalidation;
  /** Granted tokens the user may spend today beyond the daily limit (which is needed only once grants exist). */
  creditBalance(userId: string, dailyTokens: Promise<number>): Promise<number>;
  ttlMs: number;
}): Authenticator {
  const cache = new LRUCache<string, Cached>({ max: 50_000, ttl: Math.max(1, deps.ttlMs) });
  const loading = new Map<string, Promise<Cached>>();

  deps.invalidation.subscribe(({ kind, id }) => {
    for (const [hash, entry] of cache.entries()) {
      if ((kind === 'key' && entry.key?._id === id) || (kind === 'user' && entry.user?._id === id)) cache.delete(hash);
    }
  });

  async function load(hash: string): Promise<Cached> {
    const key = await deps.keys.findByHash(hash);
    if (!key) return { key, user: null, credits: 0 };
    // The user and their credit grants at once: a key seen for the first time costs two round trips in a row.
    const user = deps.users.findById(key.userId);
    const [found, credits] = await Promise.all([user, deps.creditBalance(key.userId, user.then((u) => u?.limits.dailyTokens ?? 0))]);
    return { key, user: found, credits: found ? credits : 0 };
  }

  return async (authorization) => {
    const secret = parseBearer(authorization);
    if (!secret) {
      return { ok: false, failure: fail('missing_api_key', 'Missing API key. Send it as "Authorization: Bearer <your gateway key>".') };
    }
    if (!looksLikeKey(secret)) return { ok: false, failure: invalidKey };
    const hash = hashKey(secret);
    let entry = cache.get(hash);
    if (!entry) {
      let pending = loading.get(hash);
      if (!pending) {
        pending = load(hash).finally(() => loading.delete(hash));
        loading.set(hash, pending);
      }
      entry = await pending;
      cache.set(hash, entry);
    }
    const verdict = judgeKey(entry.key, new Date());
    if (!verdict.ok || !entry.user || entry.user.status === 'deleted') {
      return { ok: false, failure: verdict.ok || verdict.reason === 'unknown' ? invalidKey : fail('invalid_api_key', `This API key has been ${verdict.reason}.`) };
    }
    if (entry.user.status === 'suspended') {
      return { ok: false, failure: fail('account_suspended', 'This account is suspended. Contact the operator of this gateway.') };
    }
    const { limits } = entry.user;
    return { ok: true, principal: { keyId: verdict.key._id, userId: entry.user._id, limits: { ...limits, dailyTokens: limits.dailyTokens + entry.credits } } };
  };
}

const invalidKey = fail('invalid_api_key', 'Invalid API key.');

function parseBearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}
