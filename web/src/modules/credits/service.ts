import { randomBytes } from 'node:crypto';
import { Schema } from 'mongoose';
import { utcDay } from '../../lib/ids';
import { modelOn, type Connection } from '../db';

/** Extra tokens an admin granted: spent only once the user's daily limit is used up. Insert-only. */
export interface CreditGrantDoc {
  _id: string;
  userId: string;
  tokens: number;
  by: string;
  reason: string;
  at: Date;
}

const creditGrantSchema = new Schema<CreditGrantDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    tokens: { type: Number, required: true },
    by: { type: String, required: true },
    reason: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'credit_grants', versionKey: false },
);

export type Credits = ReturnType<typeof createCredits>;

/**
 * Credits as a ledger: grants are inserted, spending is derived from the daily rollups (what a day used beyond
 * the daily limit), so there is no balance field for concurrent writers to clobber.
 */
export function createCredits(db: Connection, dailyUsage: (userId: string, fromDay: string) => Promise<Map<string, number>>) {
  const Grant = modelOn(db, 'CreditGrant', creditGrantSchema);
  return {
    async grant(userId: string, tokens: number, by: string, reason: string): Promise<CreditGrantDoc> {
      const doc = await Grant.create({ _id: `crd_${randomBytes(10).toString('base64url')}`, userId, tokens, by, reason, at: new Date() });
      return doc.toObject();
    },

    /** Tokens left to spend today beyond the daily limit: grants minus what earlier days used past their limit. */
    async balance(userId: string, dailyLimit: number | Promise<number>, now = new Date()): Promise<number> {
      const grants = await Grant.find({ userId }).sort({ at: 1 }).lean<CreditGrantDoc[]>();
      if (grants.length === 0) return 0;
      const dailyTokens = await dailyLimit;
      const granted = grants.reduce((n, g) => n + g.tokens, 0);
      const today = utcDay(now);
      const perDay = await dailyUsage(userId, utcDay(grants[0]!.at));
      let spent = 0;
      for (const [day, tokens] of perDay) if (day < today) spent += Math.max(0, tokens - dailyTokens);
      return Math.max(0, granted - spent);
    },
  };
}
