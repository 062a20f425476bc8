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
  lastUsedAt: Date | null;
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
    lastUsedAt: { type: Date, default: null },
  },
  { collection: 'api_keys', timestamps: true, versionKey: false },
);
