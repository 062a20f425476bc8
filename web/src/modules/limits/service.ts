import type { Logger } from '../../lib/logger';
import { utcDay } from '../../lib/ids';
import type { Connection } from '../db';
import { isDuplicateKeyError, modelOn } from '../db';
import { counterSchema, type CounterDoc } from './model';

export type LimitDecision = { ok: true } | { ok: false; reason: 'rpm' | 'daily_tokens'; retryAfterSec: number };

export interface LimitSubject {
  keyId: string;
  userId: string;
  rpm: number;
  dailyTokens: number;
}

export interface RateLimiter {
  /** Admits one request, or says which limit stops it and when to retry. */
  admit(subject: LimitSubject, now?: Date): Promise<LimitDecision>;
  /** Spends tokens a finished request used against its user's day. */
  charge(subject: LimitSubject, tokens: number, now?: Date): void;
  close(): Promise<void>;
}

interface Lease {
  window: string;
  granted: number;
  spent: number;
  touchedAt: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const IDLE_RETURN_MS = 15_000;

/**
 * Limits that hold across every instance sharing the database. Each instance leases a slice of a budget
 * with one atomic update and spends it locally, so most requests cost no database round trip; a slice is
 * small against the limit, so leased-but-unspent budget on another instance can only make us stricter.
 */
export function createRateLimiter(db: Connection, log: Logger): RateLimiter {
  const Counter = modelOn(db, 'Counter', counterSchema);
  const rpmLeases = new Map<string, Lease>();
  const tokenLeases = new Map<string, Lease>();

  /** Takes up to `want` units of the counter `id` without passing `limit`; returns what it got. */
  async function lease(id: string, limit: number, want: number, expiresAt: Date): Promise<number> {
    want = Math.min(want, limit);
    try {
      await Counter.updateOne(
        { _id: id, used: { $lte: limit - want } },
        { $inc: { used: want }, $setOnInsert: { expiresAt } },
        { upsert: true },
      );
      return want;
    } catch (err) {
      // The counter exists but has less than a full slice left: take what remains, compare-and-set.
      if (!isDuplicateKeyError(err)) throw err;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const doc = await Counter.findById(id).lean<CounterDoc>();
      if (!doc) return lease(id, limit, want, expiresAt);
      const grant = Math.min(want, limit - doc.used);
      if (grant <= 0) return 0;
      const res = await Counter.updateOne({ _id: id, used: doc.used }, { $inc: { used: grant } });
      if (res.modifiedCount === 1) return grant;
    }
    return 0;
  }

  function current(leases: Map<string, Lease>, id: string, window: string): Lease {
    let l = leases.get(id);
    if (!l || l.window !== window) {
      l = { window, granted: 0, spent: 0, touchedAt: Date.now() };
      leases.set(id, l);
    }
    return l;
  }

  async function giveBack(userId: string, l: Lease): Promise<void> {
    const unused = l.granted - l.spent;
    if (unused <= 0) return;
    l.granted = l.spent;
    await Counter.updateOne({ _id: `tok:${userId}:${l.window}` }, { $inc: { used: -unused } });
  }

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [userId, l] of tokenLeases) {
      if (now - l.touchedAt < IDLE_RETURN_MS) continue;
      tokenLeases.delete(userId);
      if (l.window === utcDay()) void giveBack(userId, l).catch((err: unknown) => log.warn({ err: String(err) }, 'lease return failed'));
    }
    for (const [id, l] of rpmLeases) if (now - l.touchedAt > 2 * MINUTE) rpmLeases.delete(id);
    void Counter.deleteMany({ expiresAt: { $lt: new Date(now) } }).catch(() => undefined);
  }, IDLE_RETURN_MS).unref();

  return {
    async admit(s, now = new Date()) {
      const t = now.getTime();
      const minute = Math.floor(t / MINUTE);
      const rpm = current(rpmLeases, s.keyId, String(minute));
      rpm.touchedAt = t;
      if (rpm.spent >= rpm.granted) {
        const got = await lease(`rpm:${s.keyId}:${minute}`, s.rpm, Math.ceil(s.rpm / 20), new Date((minute + 2) * MINUTE));
        if (got === 0) return { ok: false, reason: 'rpm', retryAfterSec: Math.max(1, Math.ceil(((minute + 1) * MINUTE - t) / 1000)) };
        rpm.granted += got;
      }
      const day = utcDay(now);
      const tokens = current(tokenLeases, s.userId, day);
      tokens.touchedAt = t;
      if (tokens.spent >= tokens.granted) {
        const got = await lease(`tok:${s.userId}:${day}`, s.dailyTokens, Math.ceil(s.dailyTokens / 50), new Date(Date.parse(day) + 3 * DAY));
        if (got === 0) {
          const midnight = Date.parse(day) + DAY;
          return { ok: false, reason: 'daily_tokens', retryAfterSec: Math.max(1, Math.ceil((midnight - t) / 1000)) };
        }
        tokens.granted += got;
      }
      // The request is counted against the minute only once every limit has let it through.
      rpm.spent += 1;
      return { ok: true };
    },

    charge(s, tokens, now = new Date()) {
      if (tokens <= 0) return;
      const day = utcDay(now);
      const l = current(tokenLeases, s.userId, day);
      l.spent += tokens;
      l.touchedAt = now.getTime();
      const overdraft = l.spent - l.granted;
      if (overdraft <= 0) return;
      // A request may use more than the lease had left: book the overdraft so every instance sees it.
      l.granted = l.spent;
      void Counter.updateOne(
        { _id: `tok:${s.userId}:${day}` },
        { $inc: { used: overdraft }, $setOnInsert: { expiresAt: new Date(Date.parse(day) + 3 * DAY) } },
        { upsert: true },
      ).catch((err: unknown) => log.error({ err: String(err), userId: s.userId }, 'token overdraft not booked'));
    },

    async close() {
      clearInterval(sweeper);
      const today = utcDay();
      await Promise.all([...tokenLeases].filter(([, l]) => l.window === today).map(([userId, l]) => giveBack(userId, l)));
      tokenLeases.clear();
    },
  };
}
