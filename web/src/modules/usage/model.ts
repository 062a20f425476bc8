import { Schema } from 'mongoose';

/** One row per request that reached the upstream. */
export interface UsageEventDoc {
  _id: string;
  userId: string;
  keyId: string;
  model: string;
  day: string;
  at: Date;
  status: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  cachedTokens: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  aborted: boolean;
  /** True when the upstream gave no usage and the counts come from our tokenizer. */
  estimated: boolean;
}

export const usageEventSchema = new Schema<UsageEventDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    keyId: { type: String, required: true },
    model: { type: String, required: true },
    day: { type: String, required: true },
    at: { type: Date, required: true },
    status: { type: Number, required: true },
    promptTokens: { type: Number, required: true },
    completionTokens: { type: Number, required: true },
    totalTokens: { type: Number, required: true },
    cachedTokens: { type: Number, default: 0 },
    latencyMs: { type: Number, required: true },
    ttftMs: { type: Number, default: null },
    stream: { type: Boolean, required: true },
    aborted: { type: Boolean, required: true },
    estimated: { type: Boolean, required: true },
  },
  { collection: 'usage_events', versionKey: false },
);
usageEventSchema.index({ userId: 1, at: -1 });
usageEventSchema.index({ at: 1 });

/**
 * Per user, UTC day, model and writing instance; kept at write time because FerretDB's aggregation support
 * is partial. Each instance increments only its own rows (FerretDB 1.x loses concurrent updates to one
 * document), and readers add the rows up.
 */
export interface UsageDailyDoc {
  _id: string;
  instance: string;
  userId: string;
  day: string;
  model: string;
  requests: number;
  failures: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** The last of its instance's usage batches this row counted: a retried batch is not counted twice. */
  seq: number;
}

export const usageDailySchema = new Schema<UsageDailyDoc>(
  {
    _id: { type: String, required: true },
    instance: { type: String, required: true },
    userId: { type: String, required: true },
    day: { type: String, required: true },
    model: { type: String, required: true },
    requests: { type: Number, default: 0 },
    failures: { type: Number, default: 0 },
    promptTokens: { type: Number, default: 0 },
    completionTokens: { type: Number, default: 0 },
    totalTokens: { type: Number, default: 0 },
    seq: { type: Number, default: 0 },
  },
  { collection: 'usage_daily', versionKey: false },
);
usageDailySchema.index({ userId: 1, day: -1 });
usageDailySchema.index({ day: 1 });

/** Per UTC hour, model and writing instance, across all users: the system-wide view stays small at any scale. */
export interface UsageSystemDoc {
  _id: string;
  instance: string;
  hour: string;
  day: string;
  model: string;
  requests: number;
  /** Requests answered 5xx: the upstream (or we) failed. */
  failures: number;
  totalTokens: number;
  /** As on UsageDailyDoc. */
  seq: number;
}

export const usageSystemSchema = new Schema<UsageSystemDoc>(
  {
    _id: { type: String, required: true },
    instance: { type: String, required: true },
    hour: { type: String, required: true, index: true },
    day: { type: String, required: true, index: true },
    model: { type: String, required: true },
    requests: { type: Number, default: 0 },
    failures: { type: Number, default: 0 },
    totalTokens: { type: Number, default: 0 },
    seq: { type: Number, default: 0 },
  },
  { collection: 'usage_system', versionKey: false },
);
