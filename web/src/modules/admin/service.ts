import { randomBytes } from 'node:crypto';
import type { UsageDay } from '@glm-gateway/shared';
import type { Connection } from '../db';
import { modelOn } from '../db';
import type { Credits } from '../credits';
import type { Invalidation } from '../invalidation';
import { toKeySummary, type KeyService } from '../keys';
import type { UsageQueries } from '../usage';
import type { UserDoc, UserLimits, UserService } from '../users';
import { userSchema } from '../users/model';
import { auditSchema, type AuditDoc } from './model';

export interface AdminActor {
  /** The admin's account id (or Clerk id for bootstrap admins), as the audit log shows it. */
  id: string;
}

export type AdminResult<T> = { ok: true; value: T } | { ok: false; reason: 'not_found' | 'own_account' };

const PAGE = 50;

const SORTS = {
  newest: { field: 'createdAt', dir: -1 },
  oldest: { field: 'createdAt', dir: 1 },
  email: { field: 'email', dir: 1 },
} as const;
export type UserSort = keyof typeof SORTS;
export const userSorts = Object.keys(SORTS) as UserSort[];

const encodeCursor = (value: string, id: string) => Buffer.from(JSON.stringify([value, id])).toString('base64url');

/**
 * The last row's sort value and id, from a cursor this service made. Cursors arrive in URLs, so anything
 * else (truncated, edited, a date that is not one) reads as no cursor, the first page, never a failed query.
 */
function decodeCursor(cursor: string | undefined, field: (typeof SORTS)[UserSort]['field']): { value: string | Date; id: string } | null {
  if (!cursor) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(decoded)) return null;
  const [value, id] = decoded as unknown[];
  if (typeof value !== 'string' || typeof id !== 'string') return null;
  if (field !== 'createdAt') return { value, id };
  const at = dateOrNull(value);
  return at ? { value: at, id } : null;
}

function dateOrNull(text: string | undefined): Date | null {
  const at = text ? new Date(text) : null;
  return at && Number.isFinite(at.getTime()) ? at : null;
}

export interface UsageCsvRow {
  day: string;
  userId: string;
  email: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export type Admin = ReturnType<typeof createAdmin>;

/**
 * What the operator's admins can see and do. Every action takes a reason and writes one audit row with the
 * state before and after; changes reach every gateway instance through the same invalidation as revocations.
 */
export function createAdmin(deps: { db: Connection; users: UserService; keys: KeyService; usage: UsageQueries; credits: Credits; invalidation: Pick<Invalidation, 'publish'> }) {
  const Audit = modelOn(deps.db, 'Audit', auditSchema);
  const User = modelOn(deps.db, 'User', userSchema);

  async function audit(actor: AdminActor, action: AuditDoc['action'], target: string, reason: string, before: unknown, after: unknown): Promise<void> {
    await Audit.create({ _id: `aud_${randomBytes(10).toString('base64url')}`, at: new Date(), actor: actor.id, action, target, reason, before, after });
  }

  return {
    /**
     * A page of users with usage today and over 30 days: newest or oldest first, or by e-mail. The cursor
     * carries the last row's sort value and id, so each page is one indexed range read however deep it is.
     */
    async listUsers(opts: { query?: string; cursor?: string; sort?: UserSort }, now = new Date()) {
      const sort = SORTS[opts.sort ?? 'newest'];
      const conditions: Record<string, unknown>[] = [];
      const q = opts.query?.trim();
      if (q) conditions.push({ $or: q.startsWith('usr_') || q.startsWith('user_') ? [{ _id: q }, { clerkId: q }] : [{ email: q.toLowerCase() }, { email: q }] });
      const after = decodeCursor(opts.cursor, sort.field);
      if (after) {
        const op = sort.dir === 1 ? '$gt' : '$lt';
        conditions.push({ $or: [{ [sort.field]: { [op]: after.value } }, { [sort.field]: after.value, _id: { [op]: after.id } }] });
      }
      const users = await User.find(conditions.length ? { $and: conditions } : {})
        .sort({ [sort.field]: sort.dir, _id: sort.dir })
        .limit(PAGE + 1)
        .lean<UserDoc[]>();
      const page = users.slice(0, PAGE);
      const ids = page.map((u) => u._id);
      const [daysByUser, keysByUser] = await Promise.all([deps.usage.dailyByUser(ids, 30, now), deps.keys.listForUsers(ids)]);
      const today = now.toISOString().slice(0, 10);
      const sum = (days: UsageDay[]) => days.reduce((t, r) => ({ requests: t.requests + r.requests, tokens: t.tokens + r.totalTokens }), { requests: 0, tokens: 0 });
      const rows = page.map((u) => {
        const [days, keys] = [daysByUser.get(u._id) ?? [], keysByUser.get(u._id) ?? []];
        const todays = sum(days.filter((d) => d.day === today));
        const lastActive = keys.reduce<Date | null>((last, k) => (k.lastUsedAt && (!last || k.lastUsedAt > last) ? k.lastUsedAt : last), null);
        return {
          id: u._id,
          email: u.email ?? null,
          joined: u.createdAt.toISOString(),
          status: u.status,
          keys: keys.filter((k) => toKeySummary(k, now).status === 'active').length,
          today: todays,
          last30: sum(days),
          quotaUsedPct: Math.round((todays.tokens / Math.max(1, u.limits.dailyTokens)) * 100),
          lastActive: lastActive?.toISOString() ?? null,
        };
      });
      const last = page.at(-1);
      const nextCursor = users.length > PAGE && last ? encodeCursor(sort.field === 'createdAt' ? last.createdAt.toISOString() : (last.email ?? ''), last._id) : null;
      return { users: rows, nextCursor };
    },

    async userDetail(id: string, now = new Date()) {
      const user = await deps.users.findById(id);
      if (!user) return null;
      const [keys, report, credits] = await Promise.all([deps.keys.listForUser(id), deps.usage.report(id, 30, user.limits.dailyTokens, now), deps.credits.balance(id, user.limits.dailyTokens, now)]);
      const history = await Audit.find({ target: { $in: [id, ...keys.map((k) => k._id)] } }).sort({ at: -1 }).limit(20).lean<AuditDoc[]>();
      return { user, keys: keys.map((k) => toKeySummary(k, now)), report, credits, history };
    },

    /** An admin cannot suspend their own account: nobody could sign in to undo it from the console. */
    async setSuspended(actor: AdminActor, id: string, suspended: boolean, reason: string): Promise<AdminResult<UserDoc>> {
      if (suspended && id === actor.id) return { ok: false, reason: 'own_account' };
      const before = await deps.users.findById(id);
      if (!before || before.status === 'deleted') return { ok: false, reason: 'not_found' };
      const after = await deps.users.setStatus(id, suspended ? 'suspended' : 'active');
      await audit(actor, suspended ? 'user.suspend' : 'user.unsuspend', id, reason, { status: before.status }, { status: after?.status });
      return after ? { ok: true, value: after } : { ok: false, reason: 'not_found' };
    },

    async setLimits(actor: AdminActor, id: string, limits: Partial<UserLimits>, reason: string): Promise<AdminResult<UserDoc>> {
      const before = await deps.users.findById(id);
      if (!before) return { ok: false, reason: 'not_found' };
      const after = await deps.users.setLimits(id, limits);
      await audit(actor, 'user.limits', id, reason, before.limits, after?.limits);
      return after ? { ok: true, value: after } : { ok: false, reason: 'not_found' };
    },

    async grantCredits(actor: AdminActor, id: string, tokens: number, reason: string): Promise<AdminResult<{ balance: number }>> {
      const user = await deps.users.findById(id);
      if (!user) return { ok: false, reason: 'not_found' };
      const before = await deps.credits.balance(id, user.limits.dailyTokens);
      await deps.credits.grant(id, tokens, actor.id, reason);
      // The gateway caches a user's credit balance with the user: drop it everywhere.
      await deps.invalidation.publish('user', id);
      await audit(actor, 'user.credits', id, reason, { balance: before }, { balance: before + tokens, granted: tokens });
      return { ok: true, value: { balance: before + tokens } };
    },

    async revokeKey(actor: AdminActor, keyId: string, reason: string): Promise<AdminResult<ReturnType<typeof toKeySummary>>> {
      const before = await deps.keys.findById(keyId);
      if (!before) return { ok: false, reason: 'not_found' };
      const after = await deps.keys.revoke(keyId);
      await audit(actor, 'key.revoke', keyId, reason, { revokedAt: before.revokedAt }, { revokedAt: after?.revokedAt ?? null });
      return { ok: true, value: toKeySummary(after ?? before) };
    },

    /** Newest first; the cursor is the last entry's time (one that is not a date starts from the newest). */
    async auditLog(opts: { cursor?: string }) {
      const before = dateOrNull(opts.cursor);
      const filter = before ? { at: { $lt: before } } : {};
      const rows = await Audit.find(filter).sort({ at: -1 }).limit(PAGE).lean<AuditDoc[]>();
      return { entries: rows, nextCursor: rows.length === PAGE ? rows.at(-1)!.at.toISOString() : null };
    },

    /**
     * Usage per user, day and model from the rollups, for the CSV export: read through a cursor and yielded row
     * by row, never held whole. Rollup rows are per writing instance, so neighbours with the same key merge.
     */
    async *usageRows(from: string, to: string): AsyncGenerator<UsageCsvRow> {
      const emails = new Map<string, string>();
      const cursor = deps.db.collection('usage_daily').find({ day: { $gte: from, $lte: to } }).sort({ day: 1, userId: 1, model: 1 });
      let row: UsageCsvRow | null = null;
      for await (const r of cursor) {
        const userId = String(r.userId);
        if (row && row.day === r.day && row.userId === userId && row.model === r.model) {
          row.requests += Number(r.requests);
          row.promptTokens += Number(r.promptTokens);
          row.completionTokens += Number(r.completionTokens);
          row.totalTokens += Number(r.totalTokens);
          continue;
        }
        if (row) yield row;
        if (!emails.has(userId)) {
          if (emails.size > 10_000) emails.clear();
          emails.set(userId, (await deps.users.findById(userId))?.email ?? '');
        }
        row = { day: String(r.day), userId, email: emails.get(userId) ?? '', model: String(r.model), requests: Number(r.requests), promptTokens: Number(r.promptTokens), completionTokens: Number(r.completionTokens), totalTokens: Number(r.totalTokens) };
      }
      if (row) yield row;
    },
  };
}
