import { Schema } from 'mongoose';
import type { Logger } from '../../lib/logger';
import type { Connection } from '../db';
import { modelOn } from '../db';

export type InvalidationKind = 'key' | 'user';
export interface InvalidationEvent {
  kind: InvalidationKind;
  id: string;
}

interface InvalidationDoc extends InvalidationEvent {
  at: Date;
}

const invalidationSchema = new Schema<InvalidationDoc>(
  {
    kind: { type: String, required: true },
    id: { type: String, required: true },
    at: { type: Date, required: true, index: true },
  },
  { collection: 'invalidations', versionKey: false },
);

/** How far back each poll looks, so a writer whose clock trails ours is still seen. */
const SKEW_MS = 2_000;
const KEEP_MS = 60 * 60 * 1000;

export type Invalidation = ReturnType<typeof createInvalidation>;

/**
 * Tells every instance sharing the database that a key or user changed, so caches on all of them drop it.
 * FerretDB has no change streams, so instances poll a small collection instead. `notifyPeer` reaches the
 * gateway process beside this one (the website runs in a child process) without waiting for a poll.
 */
export function createInvalidation(db: Connection, pollMs: number, log: Logger, notifyPeer?: (e: InvalidationEvent) => void) {
  const Invalidation = modelOn(db, 'Invalidation', invalidationSchema);
  const listeners = new Set<(e: InvalidationEvent) => void>();
  let timer: NodeJS.Timeout | undefined;
  let since = new Date();
  let polls = 0;

  const emit = (e: InvalidationEvent) => listeners.forEach((fn) => fn(e));

  async function poll(): Promise<void> {
    const started = new Date();
    const rows = await Invalidation.find({ at: { $gte: new Date(since.getTime() - SKEW_MS) } }, { kind: 1, id: 1 })
      .lean<InvalidationDoc[]>();
    for (const row of rows) emit({ kind: row.kind, id: row.id });
    since = started;
    if (++polls % 1000 === 0) await Invalidation.deleteMany({ at: { $lt: new Date(Date.now() - KEEP_MS) } });
  }

  return {
    /** Drops the entry here and in the peer process at once, and on every other instance within one poll. */
    async publish(kind: InvalidationKind, id: string): Promise<void> {
      emit({ kind, id });
      notifyPeer?.({ kind, id });
      await Invalidation.create({ kind, id, at: new Date() });
    },
    /** An event the peer process published. */
    receive: emit,
    subscribe(fn: (e: InvalidationEvent) => void): () => void {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    start(): void {
      if (timer) return;
      const tick = () => {
        poll()
          .catch((err: unknown) => log.warn({ err: String(err) }, 'invalidation poll failed'))
          .finally(() => {
            if (timer) timer = setTimeout(tick, pollMs).unref();
          });
      };
      timer = setTimeout(tick, pollMs).unref();
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
