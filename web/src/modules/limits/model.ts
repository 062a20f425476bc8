import { Schema } from 'mongoose';

/** A shared budget counter for one window (a key's minute, a user's day). */
export interface CounterDoc {
  _id: string;
  used: number;
  /** FerretDB 1.x has no TTL indexes: a job deletes rows past this time. */
  expiresAt: Date;
}

export const counterSchema = new Schema<CounterDoc>(
  {
    _id: { type: String, required: true },
    used: { type: Number, required: true },
    expiresAt: { type: Date, required: true, index: true },
  },
  { collection: 'limit_counters', versionKey: false },
);
