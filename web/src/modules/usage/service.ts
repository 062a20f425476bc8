import type { UsageDay, UsageEventDto, UsageReport } from '@glm-gateway/shared';
import type { Connection } from '../db';
import { anyOf, modelOn } from '../db';
import { utcDay } from '../../lib/ids';
import { usageDailySchema, usageEventSchema, usageSystemSchema, type UsageDailyDoc, type UsageEventDoc, type UsageSystemDoc } from './model';

export type UsageQueries = ReturnType<typeof createUsageQueries>;

export function createUsageQueries(db: Connection) {
  const UsageEvent = modelOn(db, 'UsageEvent', usageEventSchema);
  const UsageDaily = modelOn(db, 'UsageDaily', usageDailySchema);
  const UsageSystem = modelOn(db, 'UsageSystem', usageSystemSchema);

  return {
    /** Whole-system totals per day and model, failures per hour for the last 24 hours, and today's top users. */
    async system(days: number, now = new Date()) {
      const from = utcDay(new Date(now.getTime() - (days - 1) * 86_400_000));
      const rows = await UsageSystem.find({ day: { $gte: from } }).lean<UsageSystemDoc[]>();
      const perDay = new Map<string, { day: string; model: string; requests: number; tokens: number; failures: number }>();
      const perHour = new Map<string, { hour: string; requests: number; failures: number }>();
      const since = new Date(now.getTime() - 24 * 3_600_000).toISOString().slice(0, 13);
      for (const r of rows) {
        const d = perDay.get(`${r.day} ${r.model}`) ?? { day: r.day, model: r.model, requests: 0, tokens: 0, failures: 0 };
        d.requests += r.requests;
        d.tokens += r.totalTokens;
        d.failures += r.failures;
        perDay.set(`${r.day} ${r.model}`, d);
        if (r.hour >= since) {
          const h = perHour.get(r.hour) ?? { hour: r.hour, requests: 0, failures: 0 };
          h.requests += r.requests;
          h.failures += r.failures;
          perHour.set(r.hour, h);
        }
      }
      // Today's heaviest rollup rows, merged per user: bounded however many users there are.
      const heavy = await UsageDaily.find({ day: utcDay(now) }).sort({ totalTokens: -1 }).limit(200).lean<UsageDailyDoc[]>();
      const users = new Map<string, { userId: string; requests: number; tokens: number }>();
      for (const r of heavy) {
        const u = users.get(r.userId) ?? { userId: r.userId, requests: 0, tokens: 0 };
        u.requests += r.requests;
        u.tokens += r.totalTokens;
        users.set(r.userId, u);
      }
      return {
        days: [...perDay.values()].sort((a, b) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model)),
        hours: [...perHour.values()].sort((a, b) => a.hour.localeCompare(b.hour)),
        topUsers: [...users.values()].sort((a, b) => b.tokens - a.tokens).slice(0, 10),
      };
    },

    /** Raw events are kept for a while; rollups forever. Returns how many events were deleted. */
    async pruneEvents(olderThanDays: number, now = new Date()): Promise<number> {
      const res = await UsageEvent.deleteMany({ at: { $lt: new Date(now.getTime() - olderThanDays * 86_400_000) } });
      return res.deletedCount;
    },

    /** Per-day, per-model rollups for the last `days` UTC days, oldest first. */
    async daily(userId: string, days: number, now = new Date()): Promise<UsageDay[]> {
      return (await this.dailyByUser([userId], days, now)).get(userId) ?? [];
    },

    /**
     * `daily` for a page of users in one read: one query per user made the admin users page take 18 s at
     * 10,000 users on FerretDB, which reads the whole collection for each.
     */
    async dailyByUser(userIds: string[], days: number, now = new Date()): Promise<Map<string, UsageDay[]>> {
      const from = utcDay(new Date(now.getTime() - (days - 1) * 86_400_000));
      const rows = await UsageDaily.find({ userId: anyOf(userIds), day: { $gte: from } }).lean<UsageDailyDoc[]>();
      const merged = new Map<string, Map<string, UsageDay>>(userIds.map((id) => [id, new Map()]));
      for (const r of rows) {
        const user = merged.get(r.userId);
        if (!user) continue;
        const id = `${r.day} ${r.model}`;
        const m = user.get(id) ?? { day: r.day, model: r.model, requests: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 };
        m.requests += r.requests;
        m.promptTokens += r.promptTokens;
        m.completionTokens += r.completionTokens;
        m.totalTokens += r.totalTokens;
        user.set(id, m);
      }
      const byDay = (a: UsageDay, b: UsageDay) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model);
      return new Map([...merged].map(([id, m]) => [id, [...m.values()].sort(byDay)]));
    },

    /** What the dashboard shows: the last `days` days by model, recent requests, and today against the limit. */
    async report(userId: string, days: number, dailyLimit: number, now = new Date()): Promise<UsageReport> {
      const [rows, recent] = await Promise.all([this.daily(userId, days, now), this.recent(userId, 50)]);
      return { days: rows, recent, today: totalsOn(rows, utcDay(now), dailyLimit) };
    },

    /** Tokens per UTC day from `fromDay` on, all models together. */
    async tokensPerDay(userId: string, fromDay: string): Promise<Map<string, number>> {
      const rows = await UsageDaily.find({ userId, day: { $gte: fromDay } }, { day: 1, totalTokens: 1 }).lean<UsageDailyDoc[]>();
      const out = new Map<string, number>();
      for (const r of rows) out.set(r.day, (out.get(r.day) ?? 0) + r.totalTokens);
      return out;
    },

    /** Today's tokens and requests against the daily limit. */
    async today(userId: string, dailyLimit: number, now = new Date()): Promise<UsageReport['today']> {
      return totalsOn(await this.daily(userId, 1, now), utcDay(now), dailyLimit);
    },

    async recent(userId: string, limit: number): Promise<UsageEventDto[]> {
      const rows = await UsageEvent.find({ userId }).sort({ at: -1 }).limit(limit).lean<UsageEventDoc[]>();
      return rows.map(toUsageEventDto);
    },
  };
}

function totalsOn(rows: UsageDay[], day: string, limit: number): UsageReport['today'] {
  const on = rows.filter((r) => r.day === day);
  return { tokens: on.reduce((n, r) => n + r.totalTokens, 0), requests: on.reduce((n, r) => n + r.requests, 0), limit };
}

export function toUsageEventDto(e: UsageEventDoc): UsageEventDto {
  return {
    id: e._id,
    at: e.at.toISOString(),
    keyId: e.keyId,
    model: e.model,
    status: e.status,
    promptTokens: e.promptTokens,
    completionTokens: e.completionTokens,
    totalTokens: e.totalTokens,
    latencyMs: e.latencyMs,
    ttftMs: e.ttftMs,
    aborted: e.aborted,
    estimated: e.estimated,
  };
}
