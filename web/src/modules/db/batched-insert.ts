import type { Model } from 'mongoose';

/** Inserts one document: true once stored, false if its `_id` (or another unique key) was taken. */
export type BatchedInsert<T> = (doc: T) => Promise<boolean>;

interface Waiting<T> {
  doc: T;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

/** Each failed document's error code, by its place in the batch; null when the write failed as a whole. */
function failedCodes(err: unknown): Map<number, number | undefined> | null {
  const writeErrors = (err as { writeErrors?: unknown }).writeErrors;
  if (!Array.isArray(writeErrors)) return null;
  const codes = new Map<number, number | undefined>();
  for (const e of writeErrors as { index?: number; code?: number; err?: { code?: number; index?: number } }[]) {
    codes.set(e.index ?? e.err?.index ?? -1, e.code ?? e.err?.code);
  }
  return codes;
}

/**
 * Inserts that arrive while one is being written go out together as the next unordered insertMany, one
 * command at a time. A burst of new users (each claiming two limit budgets) becomes a few writes rather than
 * one per claim: FerretDB's SQLite takes one writer at a time, and concurrent single inserts queued ~200 ms
 * each behind its busy-wait (10,000-key bench). Each caller learns its own document's fate.
 */
export function batchedInsert<T>(model: Model<T>): BatchedInsert<T> {
  let next: Waiting<T>[] = [];
  let writing = false;

  async function write(): Promise<void> {
    writing = true;
    while (next.length > 0) {
      const batch = next;
      next = [];
      try {
        await model.insertMany(
          batch.map((w) => w.doc),
          { ordered: false, lean: true },
        );
        for (const w of batch) w.resolve(true);
      } catch (err) {
        const failed = failedCodes(err);
        for (const [i, w] of batch.entries()) {
          if (failed && !failed.has(i)) w.resolve(true);
          else if (failed?.get(i) === 11000) w.resolve(false);
          else w.reject(err);
        }
      }
    }
    writing = false;
  }

  return (doc) =>
    new Promise<boolean>((resolve, reject) => {
      next.push({ doc, resolve, reject });
      if (!writing) void write();
    });
}
