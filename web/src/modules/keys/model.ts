import { Schema } from 'mongoose';

export interface ApiKeyDoc {
  _id: string;
  userId: string;
  name: string;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  hash: string;
  /** The first characters of the secret, for recognising a key in a list. */
  start: string;
  revokedAt: Date | null;
  expiresAt: Date | null;
  /** Read from `key_activity` (see below); not a field of the stored key. */
  lastUsedAt?: Date | null;
  /** Set on the key provisioned for a new user: unique, so a user gets exactly one however often we retry. */
  defaultFor?: string | null;
  /** A provisioned key's secret, sealed until its owner first sees it; then removed for good. */
  sealedSecret?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const apiKeySchema = new Schema<ApiKeyDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    name: { type: String, required: true },
    hash: { type: String, required: true, unique: true },
    start: { type: String, required: true },
    revokedAt: { type: Date, default: null },
    expiresAt: { type: Date, default: null },
    defaultFor: { type: String, unique: true, sparse: true },
    sealedSecret: { type: String, default: null },
  },
  { collection: 'api_keys', timestamps: true, versionKey: false },
);

/**
 * When each key was last used, apart from the key itself: the hot path writes this often, and FerretDB 1.x
 * applies concurrent updates to one document without isolation, so a last-used write racing a revocation on
 * the same document could bring the key back to life. Only usage meters write here.
 */
export interface KeyActivityDoc {
  _id: string;
  lastUsedAt: Date;
}

export const keyActivitySchema = new Schema<KeyActivityDoc>(
  {
    _id: { type: String, required: true },
    lastUsedAt: { type: Date, required: true },
  },
  { collection: 'key_activity', versionKey: false },
);
