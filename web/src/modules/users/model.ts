import { Schema } from 'mongoose';

export type UserStatus = 'active' | 'suspended' | 'deleted';

export interface UserLimits {
  /** Requests per minute, per key. */
  rpm: number;
  /** Tokens per UTC day, per user. */
  dailyTokens: number;
}

export interface UserDoc {
  _id: string;
  clerkId?: string | null;
  email?: string | null;
  name?: string | null;
  status: UserStatus;
  limits: UserLimits;
  /** Clerk's `updated_at` of the newest profile applied, so an older webhook never overwrites a newer one. */
  profileAt?: Date | null;
  deletedAt?: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    clerkId: { type: String, unique: true, sparse: true },
    email: { type: String },
    name: { type: String },
    status: { type: String, enum: ['active', 'suspended', 'deleted'], default: 'active', required: true },
    limits: {
      rpm: { type: Number, required: true },
      dailyTokens: { type: Number, required: true },
    },
    profileAt: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
  },
  { collection: 'users', timestamps: true, versionKey: false },
);
// The admin list pages through users by join time and by e-mail, each with _id as the tie-breaker.
userSchema.index({ createdAt: -1, _id: -1 });
userSchema.index({ email: 1, _id: 1 });
