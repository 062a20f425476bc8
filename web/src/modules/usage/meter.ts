import type { AnyBulkWriteOperation } from 'mongoose';
import type { Logger } from '../../lib/logger';
import type { Connection } from '../db';
import { modelOn } from '../db';
import { usageDailySchema, usageEventSchema, usageSystemSchema, type UsageDailyDoc, type UsageEventDoc, type UsageSystemDoc } from './model';

export type UsageRecord = UsageEventDoc;

export interface UsageMeter {
  /** Accepts a record for writing; never blocks the request that produced it. */
  record(event: UsageRecord): void;
  /** True while the buffer is full: callers should refuse new upstream work rather than lose its record. */
  isSaturated(): boolean;
  pending(): number;
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface MeterOptions {
  /** Names this process's rollup rows; unique per running instance. */
  instance: string;
  flushMs: number;
  maxBuffered: number;
  touchKeys: (seen: Map<string, Date>) => Promise<void>;
  log: Logger;
}

const BATCH = 500;

/**
 * Buffers usage records and writes them in batches: the raw events first (idempotent by request id), then
 * the daily rollups, then keys' last-used times. A batch whose events are stored but whose rollup failed is
 * retried from the rollup step, so a retry never counts an event twice.
 */
export function createUsageMeter(db: Connection, opts: MeterOptions): UsageMeter {
  const UsageEvent = modelOn(db, 'UsageEvent', usageEventSchema);
  const UsageDaily = modelOn(db, 'UsageDaily', usageDailySchema);
  const UsageSystem = modelOn(db, 'UsageSystem', usageSystemSchema);
  let buffer: UsageRecord[] = [];
  let stored: UsageRecord[] | null = null;
  let flushing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function insertEvents(batch: UsageRecord[]): Promise<void> {
    try {
      await UsageEvent.insertMany(batch, { ordered: false, lean: true });
    } catch (err) {
      // Duplicates are events a previous, interrupted attempt already stored; anything else is a real failure.
      const writeErrors = (err as { writeErrors?: { code?: number; err?: { code?: number } }[] }).writeErrors;
      const onlyDuplicates =
        Array.isArray(writeErrors) && writeErrors.length > 0 && writeErrors.every((e) => (e.code ?? e.err?.code) === 11000);
      if (!onlyDuplicates) throw err;
    }
  }

  async function rollUp(batch: UsageRecord[]): Promise<void> {
    const sums = new Map<string, Omit<UsageDailyDoc, '_id' | 'instance'>>();
    const seen = new Map<string, Date>();
    const hours = new Map<string, Omit<UsageSystemDoc, '_id' | 'instance'>>();
    for (const e of batch) {
      const hour = e.at.toISOString().slice(0, 13);
      const hid = `${hour}:${e.model}:${opts.instance}`;
      const h = hours.get(hid) ?? { hour, day: e.day, model: e.model, requests: 0, failures: 0, totalTokens: 0 };
      h.requests += 1;
      h.failures += e.status >= 500 ? 1 : 0;
      h.totalTokens += e.totalTokens;
      hours.set(hid, h);
      const id = `${e.userId}:${e.day}:${e.model}:${opts.instance}`;
      const s = sums.get(id) ?? { userId: e.userId, day: e.day, model: e.model, requests: 0, failures: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0 };
      s.requests += 1;
      s.failures += e.status >= 400 ? 1 : 0;
      s.promptTokens += e.promptTokens;
      s.completionTokens += e.completionTokens;
      s.totalTokens += e.totalTokens;
      sums.set(id, s);
      const last = seen.get(e.keyId);
      if (!last || last < e.at) seen.set(e.keyId, e.at);
    }
    const ops: AnyBulkWriteOperation<UsageDailyDoc>[] = [...sums].map(([id, s]) => ({
      updateOne: {
        filter: { _id: id },
        update: {
          $setOnInsert: { instance: opts.instance, userId: s.userId, day: s.day, model: s.model },
          $inc: { requests: s.requests, failures: s.failures, promptTokens: s.promptTokens, completionTokens: s.completionTokens, totalTokens: s.totalTokens },
        },
        upsert: true,
      },
    }));
    await UsageDaily.bulkWrite(ops, { ordered: true });
    await UsageSystem.bulkWrite(
      [...hours].map(([id, h]) => ({
        updateOne: {
          filter: { _id: id },
          update: { $setOnInsert: { instance: opts.instance, hour: h.hour, day: h.day, model: h.model }, $inc: { requests: h.requests, failures: h.failures, totalTokens: h.totalTokens } },
          upsert: true,
        },
      })),
      { ordered: true },
    );
    await opts.touchKeys(seen).catch((err: unknown) => opts.log.warn({ err: String(err) }, 'last-used update failed'));
  }

  async function drain(): Promise<void> {
    for (;;) {
      if (!stored) {
        if (buffer.length === 0) return;
        const batch = buffer.slice(0, BATCH);
        await insertEvents(batch);
        buffer = buffer.slice(batch.length);
        stored = batch;
      }
      await rollUp(stored);
      stored = null;
    }
  }

  function flush(): Promise<void> {
    flushing ??= drain().finally(() => {
      flushing = null;
    });
    return flushing;
  }

  function schedule(): void {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush()
        .catch((err: unknown) => opts.log.error({ err: String(err), pending: buffer.length }, 'usage flush failed; will retry'))
        .finally(() => {
          if (buffer.length > 0 || stored) schedule();
        });
    }, opts.flushMs);
    timer.unref();
  }

  return {
    record(event) {
      buffer.push(event);
      if (buffer.length >= BATCH) void flush().catch(() => schedule());
      schedule();
    },
    isSaturated: () => buffer.length >= opts.maxBuffered,
    pending: () => buffer.length + (stored?.length ?? 0),
    flush,
    async close() {
      closed = true;
      clearTimeout(timer);
      await flush();
    },
  };
}
