import type { AnyBulkWriteOperation } from 'mongoose';
import type { Logger } from '../../lib/logger';
import { utcDay } from '../../lib/ids';
import type { Connection } from '../db';
import { batchedInsert, bulkWriteBounded, modelOn } from '../db';
import { sliceSchema, type SliceDoc } from './model';

/** Tokens held for one admitted request, on the UTC day it was admitted: it is settled against that day. */
export interface TokenHold {
  held: number;
  day: string;
}

/**
 * Why a request is refused: `daily_tokens_held` when what is left of the day is held by this user's requests
 * still running here, so it comes back within seconds (not at midnight) as they finish.
 */
export type LimitDecision = ({ ok: true } & TokenHold) | { ok: false; reason: 'rpm' | 'daily_tokens' | 'daily_tokens_held'; retryAfterSec: number };

export interface LimitSubject {
  keyId: string;
  userId: string;
  rpm: number;
  dailyTokens: number;
}

export interface RateLimiter {
  /**
   * Admits one request and holds up to `tokens` of its user's day for it (all that is left, if less), or
   * says which limit stops it and when to retry.
   */
  admit(subject: LimitSubject, tokens: number, now?: Date): Promise<LimitDecision>;
  /** Settles a finished request: `used` tokens replace the held ones, on the day they were held. */
  settle(subject: LimitSubject, hold: TokenHold, used: number, now?: Date): void;
  close(): Promise<void>;
}

/** What this instance holds of one budget: the slices it claimed and how much of them is committed. */
interface Lease {
  budget: string;
  slices: { id: string; grant: number }[];
  granted: number;
  /** Spent plus held for requests still running. */
  committed: number;
  /** Of `committed`, what requests still running hold. */
  holding: number;
  touchedAt: number;
  /** The claim in flight, shared by every request waiting on this lease. */
  claiming?: Promise<number>;
  /** When a claim last found the budget empty: for a moment, refuse without asking the database again. */
  emptyAt: number;
  /** Units wanted by requests waiting on this lease, so one claim serves them all. */
  waiting: number;
  /** Returns and overdrafts of this lease still being written; a claim reads the budget only after them. */
  writes: Promise<unknown>;
  /** The budget as this lease last saw it (or left it): units in use at most, and the highest slice index. */
  seen: { used: number; lastIndex: number };
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const IDLE_RETURN_MS = 15_000;
const CLAIM_ATTEMPTS = 12;
const EMPTY_RECHECK_MS = 250;
/** When the day's budget is only held by running requests: retry after a few seconds, as they finish. */
const HELD_RETRY_SEC = 5;

/**
 * Limits that hold across every instance sharing the database. Each instance claims a slice of a budget
 * (usually one insert) and spends it locally, so most requests cost no database round trip. A slice is
 * small against the limit, so budget claimed but unspent on another instance can only make us stricter.
 */
export function createRateLimiter(db: Connection, log: Logger): RateLimiter {
  const Slice = modelOn(db, 'LimitSlice', sliceSchema);
  const storeSlice = batchedInsert(Slice);
  const rpmLeases = new Map<string, Lease>();
  const tokenLeases = new Map<string, Lease>();

  /** Re-reads the budget: every slice index is taken in order, so the highest one and the sum say it all. */
  async function look(lease: Lease): Promise<void> {
    const slices = await Slice.find({ budget: lease.budget }, { index: 1, grant: 1 }).lean<SliceDoc[]>();
    lease.seen = { used: slices.reduce((n, x) => n + x.grant, 0), lastIndex: slices.reduce((max, x) => Math.max(max, x.index), -1) };
  }

  /**
   * Takes the next slice index for `grant` units. Indices are only ever taken as "one past the highest seen"
   * and grants only ever lowered, so when the insert succeeds nobody took budget since the lease last looked,
   * and what it saw is an upper bound of what is in use: a claim usually costs one insert, no read.
   */
  async function insertSlice(lease: Lease, grant: number, expiresAt: Date): Promise<string | null> {
    const index = lease.seen.lastIndex + 1;
    const id = `${lease.budget}#${index}`;
    // Not stored: another instance took this index first, so look again.
    if (!(await storeSlice({ _id: id, budget: lease.budget, index, grant, expiresAt }))) return null;
    lease.seen = { used: lease.seen.used + grant, lastIndex: index };
    lease.slices.push({ id, grant });
    return id;
  }

  /** Claims up to `want` units of `budget` without passing `limit`; adds them to the lease. */
  async function claim(lease: Lease, limit: number, want: number, expiresAt: Date): Promise<number> {
    let looked = false;
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const grant = Math.min(want, limit - lease.seen.used);
      if (grant > 0 && (await insertSlice(lease, grant, expiresAt))) {
        lease.granted += grant;
        return grant;
      }
      // Empty by what the lease last saw (others may have handed budget back since), or beaten to the index.
      if (grant <= 0 && looked) return 0;
      await look(lease);
      looked = true;
    }
    return 0;
  }

  /** Books tokens already spent beyond the lease, whatever the limit: the budget must show the truth. */
  async function bookOverdraft(lease: Lease, amount: number, expiresAt: Date): Promise<void> {
    while (!(await insertSlice(lease, amount, expiresAt))) await look(lease);
  }

  /** Lowers this lease's own slices to hand back what it claimed beyond `keep` uncommitted units; returns the writes. */
  function returnOps(lease: Lease, keep = 0): AnyBulkWriteOperation<SliceDoc>[] {
    let excess = lease.granted - lease.committed - keep;
    const ops: AnyBulkWriteOperation<SliceDoc>[] = [];
    for (let i = lease.slices.length - 1; i >= 0 && excess > 0; i--) {
      const slice = lease.slices[i]!;
      const cut = Math.min(excess, slice.grant);
      slice.grant -= cut;
      excess -= cut;
      lease.granted -= cut;
      ops.push({ updateOne: { filter: { _id: slice.id }, update: { $set: { grant: slice.grant } } } });
    }
    return ops;
  }

  /**
   * Hands budget back in bulk writes of a bounded size, one at a time: thousands of idle leases returned at
   * once, as concurrent single updates or as one command, deadlock FerretDB 1.x's SQLite backend.
   */
  async function giveBack(leases: Lease[], keep = 0): Promise<void> {
    await bulkWriteBounded(Slice, leases.flatMap((l) => returnOps(l, keep)), { ordered: true });
  }

  /** Commits `want` units from the lease, claiming more from the database as needed (one claim at a time). */
  async function reserve(lease: Lease, limit: number, slice: number, want: number, expiresAt: Date, partial: boolean): Promise<number> {
    lease.waiting += want;
    const grantedBefore = lease.granted;
    try {
      // Each claim that succeeds takes budget, so this ends: enough is held, or the budget is empty.
      while (lease.granted - lease.committed < want && Date.now() - lease.emptyAt >= EMPTY_RECHECK_MS) {
        lease.claiming ??= lease.writes.then(() => claim(lease, limit, Math.max(slice, lease.waiting - (lease.granted - lease.committed)), expiresAt)).finally(() => {
          lease.claiming = undefined;
        });
        if ((await lease.claiming) === 0) lease.emptyAt = Date.now();
      }
    } finally {
      lease.waiting -= want;
    }
    const available = lease.granted - lease.committed;
    // Less than wanted is enough only with budget fresh from the shared pool: crumbs left on this instance
    // after the pool ran dry would let request after request through, each overshooting the limit.
    const fresh = lease.granted > grantedBefore;
    const hold = available >= want ? want : partial && fresh ? Math.max(0, available) : 0;
    lease.committed += hold;
    return hold;
  }

  function leaseFor(leases: Map<string, Lease>, id: string, budget: string): Lease {
    let l = leases.get(id);
    if (!l || l.budget !== budget) {
      l = { budget, slices: [], granted: 0, committed: 0, holding: 0, touchedAt: Date.now(), emptyAt: 0, waiting: 0, writes: Promise.resolve(), seen: { used: 0, lastIndex: -1 } };
      leases.set(id, l);
    }
    return l;
  }

  const tokenBudget = (userId: string, day: string) => `tok:${userId}:${day}`;
  const tokenSlice = (s: LimitSubject) => Math.ceil(s.dailyTokens / 50);
  const tokenExpiry = (day: string) => new Date(Date.parse(day) + 3 * DAY);

  let sweeping: Promise<unknown> | undefined;
  const sweeper = setInterval(() => {
    const now = Date.now();
    const today = utcDay();
    const idle: Lease[] = [];
    for (const [userId, l] of tokenLeases) {
      if (now - l.touchedAt < IDLE_RETURN_MS) continue;
      tokenLeases.delete(userId);
      if (l.budget.endsWith(today)) idle.push(l);
    }
    void giveBack(idle).catch((err: unknown) => log.warn({ err: String(err) }, 'lease return failed'));
    for (const [id, l] of rpmLeases) if (now - l.touchedAt > 2 * MINUTE) rpmLeases.delete(id);
    // One sweep at a time: on a slow database, overlapping deletes pile up (and deadlock FerretDB 1.x).
    sweeping ??= Slice.deleteMany({ expiresAt: { $lt: new Date(now) } })
      .catch(() => undefined)
      .finally(() => (sweeping = undefined));
  }, IDLE_RETURN_MS).unref();

  function settle(s: LimitSubject, hold: TokenHold, used: number, now = new Date()): void {
    const day = utcDay(now);
    // A request admitted before midnight that ends after it: its hold was on a day that is over. Settling it
    // on today's lease would credit today with tokens today never claimed (held minus used), which the next
    // requests would spend beyond today's limit. The old day is not limited any more, so nothing is left to do.
    if (hold.day !== day) return;
    const l = leaseFor(tokenLeases, s.userId, tokenBudget(s.userId, day));
    l.committed += used - hold.held;
    l.holding = Math.max(0, l.holding - hold.held);
    l.touchedAt = now.getTime();
    const overdraft = l.committed - l.granted;
    if (overdraft > 0) {
      // A request may use more than it held: book it so every instance sees the truth.
      l.granted = l.committed;
      const booked = l.writes.then(() => bookOverdraft(l, overdraft, tokenExpiry(day)));
      l.writes = booked.catch((err: unknown) => log.error({ err: String(err), userId: s.userId }, 'token overdraft not booked'));
    } else if (l.granted - l.committed > 2 * tokenSlice(s)) {
      // A large hold came back unused: let other instances have it now rather than at the idle sweep.
      l.emptyAt = 0;
      const returned = l.writes.then(() => giveBack([l], tokenSlice(s)));
      l.writes = returned.catch((err: unknown) => log.warn({ err: String(err) }, 'lease return failed'));
    }
  }

  return {
    async admit(s, tokens, now = new Date()) {
      const t = now.getTime();
      const minute = Math.floor(t / MINUTE);
      const day = utcDay(now);
      const rpm = leaseFor(rpmLeases, s.keyId, `rpm:${s.keyId}:${minute}`);
      const budget = leaseFor(tokenLeases, s.userId, tokenBudget(s.userId, day));
      rpm.touchedAt = t;
      budget.touchedAt = t;
      // Both budgets at once: a key's first request of a minute costs one round trip, not two in a row.
      const [admitted, held] = await Promise.all([
        reserve(rpm, s.rpm, Math.ceil(s.rpm / 20), 1, new Date((minute + 2) * MINUTE), false),
        reserve(budget, s.dailyTokens, tokenSlice(s), Math.max(1, tokens), tokenExpiry(day), true),
      ]);
      // A refused request counts against neither budget.
      if (admitted === 0) {
        budget.committed -= held;
        return { ok: false, reason: 'rpm', retryAfterSec: Math.max(1, Math.ceil(((minute + 1) * MINUTE - t) / 1000)) };
      }
      if (held === 0) {
        rpm.committed -= 1;
        if (budget.holding > 0) return { ok: false, reason: 'daily_tokens_held', retryAfterSec: HELD_RETRY_SEC };
        return { ok: false, reason: 'daily_tokens', retryAfterSec: Math.max(1, Math.ceil((Date.parse(day) + DAY - t) / 1000)) };
      }
      budget.holding += held;
      return { ok: true, held, day };
    },

    settle,

    async close() {
      clearInterval(sweeper);
      await giveBack([...tokenLeases.values()]);
      tokenLeases.clear();
    },
  };
}
