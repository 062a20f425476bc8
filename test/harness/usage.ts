import type { Connection } from 'mongoose';

export interface StoredUsage {
  _id: string;
  userId: string;
  keyId: string;
  model: string;
  status: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  aborted: boolean;
  estimated: boolean;
  stream: boolean;
  ttftMs: number | null;
}

/** Waits until the gateway has written `count` usage rows for a user (writes are batched), then returns them. */
export async function usageRows(db: Connection, userId: string, count: number, timeoutMs = 10_000): Promise<StoredUsage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await db.collection('usage_events').find({ userId }).sort({ at: 1 }).toArray()) as unknown as StoredUsage[];
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function dailyTotals(db: Connection, userId: string): Promise<{ requests: number; totalTokens: number }> {
  const rows = await db.collection('usage_daily').find({ userId }).toArray();
  return rows.reduce((t, r) => ({ requests: t.requests + (r.requests as number), totalTokens: t.totalTokens + (r.totalTokens as number) }), { requests: 0, totalTokens: 0 });
}
