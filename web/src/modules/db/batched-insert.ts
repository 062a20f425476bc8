import type { Model } from 'mongoose';

/** Inserts one document: true once stored, false if its `_id` (or another unique key) was taken. */
export type BatchedInsert<T> = (doc: T) => Promise<boolean>;

interface Waiting<T> {
  doc: T;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

interface InsertReply {
  writeErrors?: { index: number; code: number; errmsg?: string }[];
}

/**
 * Inserts that arrive while one is being written go out together as the next unordered insert, one command
 * at a time. A burst of new users (each claiming two limit budgets) becomes a few writes rather than one per
 * claim: FerretDB's SQLite takes one writer at a time, and concurrent single inserts queued ~200 ms each
 * behind its busy-wait (10,000-key bench). Each caller learns its own document's fate. The `insert` command
 * is sent as is because the driver's bulk API wraps a lost connection in a bulk write error that names no
 * document, which reads as "all stored" and hides the outage from the caller's 503.
 */
export function batchedInsert<T>(model: Model<T>): BatchedInsert<T> {
  let next: Waiting<T>[] = [];
  let writing = false;

  async function write(): Promise<void> {
    writing = true;
    try {
      while (next.length > 0) {
        const batch = next;
        next = [];
        try {
          const reply = (await model.db.db!.command({ insert: model.collection.collectionName, documents: batch.map((w) => w.doc), ordered: false })) as InsertReply;
          const failed = new Map((reply.writeErrors ?? []).map((e) => [e.index, e]));
          for (const [i, w] of batch.entries()) {
            const e = failed.get(i);
            if (!e) w.resolve(true);
            else if (e.code === 11000) w.resolve(false);
            else w.reject(Object.assign(new Error(e.errmsg ?? `insert failed with code ${e.code}`), { code: e.code }));
          }
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      writing = false;
    }
  }

  return (doc) =>
    new Promise<boolean>((resolve, reject) => {
      next.push({ doc, resolve, reject });
      if (!writing) void write();
    });
}
