import type { AnyBulkWriteOperation } from 'mongoose';
import type { Logger } from '../../lib/logger';
import type { Connection } from '../db';
import { bulkWriteBounded, modelOn } from '../db';
import { usageDailySchema, usageEventSchema, usageSystemSchema, type UsageDailyDoc, type UsageEventDoc, type UsageSystemDoc } from './model';

export type UsageRecord = UsageEventDoc;

export interface UsageMeter {
  /** Accepts a record for writing; never blocks the request that produced it. */
  record(event: UsageRecord): void;
  /** True while the buffer is full: callers should refuse new upstream work rather than lose its record. */
  isSaturated(): boolean;
  pending(): number;
  /** Stops the timer and writes what is buffered, retrying for up to `deadlineMs` while the database is away. */
  close(deadlineMs?: number): Promise<void>;
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
const CLOSE_RETRY_MS = 250;

/**
 * One rollup row's increments for batch `seq`, applied at most once however often it is retried. Only this
 * instance writes its rows and its batches go out in order, so a row's seq is the last batch it counted, and
 * on a batch's first attempt no row has counted it yet: one upsert by `_id` alone, which FerretDB 1.x finds
 * by index (with any second field in the filter it reads the whole collection, per row written). A retry may
 * follow a write that was applied but never confirmed, so it creates the row if missing, then increments it
 * only if it has not yet seen this batch. (A single upsert filtered on seq would answer a duplicate-key error
 * for a row already counted, and FerretDB 1.x stops an unordered bulk write at its first error.)
 */
function countOnce<T extends { _id: string; seq: number }>(
  id: string,
  seq: number,
  keys: Partial<T>,
  inc: Record<string, number>,
  retry: boolean,
): AnyBulkWriteOperation<T>[] {
  if (!retry) return [{ updateOne: { filter: { _id: id }, update: { $setOnInsert: keys, $inc: inc, $set: { seq } }, upsert: true } }];
  const zero = Object.fromEntries(Object.keys(inc).map((k) => [k, 0]));
  return [
    { updateOne: { filter: { _id: id }, update: { $setOnInsert: { ...keys, ...zero, seq: 0 } }, upsert: true } },
    { updateOne: { filter: { _id: id, seq: { $lt: seq } }, update: { $inc: inc, $set: { seq } } } },
  ];
}

/**
 * Buffers usage records and writes them in batches: the raw events first (idempotent by request id), then
 * the rollups (idempotent by batch number), then keys' last-used times. A batch is retried until it is
 * written, from the step that failed, so an outage delays records but never loses or double-counts them.
 * While the database is away the buffer grows to `maxBuffered`; past that the gateway refuses new work.
 */
export function createUsageMeter(db: Connection, opts: MeterOptions): UsageMeter {
  const UsageEvent = modelOn(db, 'UsageEvent', usageEventSchema);
  const UsageDaily = modelOn(db, 'UsageDaily', usageDailySchema);
  const UsageSystem = modelOn(db, 'UsageSystem', usageSystemSchema);
  let buffer: UsageRecord[] = [];
  /** A batch whose events are stored and whose rollups are not yet confirmed, and how often they were tried. */
  let stored: { batch: UsageRecord[]; seq: number; tries: number } | null = null;
  let batches = 0;
  let saturatedSince: number | null = null;
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

  async function rollUp(batch: UsageRecord[], seq: number, retry: boolean): Promise<void> {
    const sums = new Map<string, Omit<UsageDailyDoc, '_id' | 'instance' | 'seq'>>();
    const seen = new Map<string, Date>();
    const hours = new Map<string, Omit<UsageSystemDoc, '_id' | 'instance' | 'seq'>>();
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
    await bulkWriteBounded(
      UsageDaily,
      [...sums].flatMap(([id, { userId, day, model, ...inc }]) =>
        countOnce<UsageDailyDoc>(id, seq, { instance: opts.instance, userId, day, model }, inc, retry),
      ),
      { ordered: true },
    );
    await bulkWriteBounded(
      UsageSystem,
      [...hours].flatMap(([id, { hour, day, model, ...inc }]) =>
        countOnce<UsageSystemDoc>(id, seq, { instance: opts.instance, hour, day, model }, inc, retry),
      ),
      { ordered: true },
    );
    await opts.touchKeys(seen).catch((err: unknown) => opts.log.warn({ err: String(err) }, 'last-used update failed'));
  }

  /**
   * Writes the records buffered when it starts, and goes on only while a whole batch is waiting. Records that
   * trickle in meanwhile wait for the next flush: a drain that took them as they came would run back to back
   * under steady load, a few records per write (measured: 40 flushes a second at 500 requests a second, and
   * half a core of FerretDB's CPU), where the timer gives one write per `flushMs`.
   */
  async function drain(): Promise<void> {
    let take = buffer.length;
    for (;;) {
      if (!stored) {
        if (take <= 0) take = buffer.length >= BATCH ? buffer.length : 0;
        if (take <= 0) return;
        const batch = buffer.slice(0, Math.min(BATCH, take));
        await insertEvents(batch);
        buffer = buffer.slice(batch.length);
        take -= batch.length;
        stored = { batch, seq: ++batches, tries: 0 };
      }
      await rollUp(stored.batch, stored.seq, stored.tries++ > 0);
      stored = null;
    }
  }

  /** One drain at a time; a flush asked for while one runs starts after it, so it writes what was recorded before the ask. */
  function flush(): Promise<void> {
    const run = (flushing ?? Promise.resolve()).catch(() => undefined).then(drain);
    const current = run.finally(() => {
      if (flushing === current) flushing = null;
    });
    flushing = current;
    return current;
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

  function isSaturated(): boolean {
    const full = buffer.length >= opts.maxBuffered;
    if (full && saturatedSince === null) {
      saturatedSince = Date.now();
      opts.log.error({ pending: buffer.length, max: opts.maxBuffered }, 'usage buffer full: refusing new requests until usage is written');
    } else if (!full && saturatedSince !== null) {
      opts.log.info({ refusingForMs: Date.now() - saturatedSince }, 'usage buffer has room again: accepting requests');
      saturatedSince = null;
    }
    return full;
  }

  return {
    record(event) {
      buffer.push(event);
      // A running drain picks up whole batches itself.
      if (buffer.length >= BATCH && !flushing) void flush().catch(() => schedule());
      schedule();
    },
    isSaturated,
    pending: () => buffer.length + (stored?.batch.length ?? 0),
    async close(deadlineMs = 0) {
      closed = true;
      clearTimeout(timer);
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        try {
          await flush();
          if (buffer.length === 0 && !stored) return;
        } catch (err) {
          if (Date.now() >= deadline) {
            opts.log.error({ err: String(err), eventsLost: buffer.length, rollupsMissing: stored?.batch.length ?? 0 }, 'usage not written at shutdown');
            throw err;
          }
          await new Promise((r) => setTimeout(r, CLOSE_RETRY_MS));
        }
      }
    },
  };
}
