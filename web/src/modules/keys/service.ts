import type { KeySummary } from '@glm-gateway/shared';
import type { Connection } from '../db';
import type { Invalidation } from '../invalidation';
import { modelOn } from '../db';
import { newId } from '../../lib/ids';
import { apiKeySchema, type ApiKeyDoc } from './model';
import { hashKey, looksLikeKey, newKey } from './secret';

export type KeyRejection = 'unknown' | 'revoked' | 'expired';
export type KeyVerification = { ok: true; key: ApiKeyDoc } | { ok: false; reason: KeyRejection };

export type KeyService = ReturnType<typeof createKeyService>;

export function createKeyService(db: Connection, invalidation: Pick<Invalidation, 'publish'>) {
  const ApiKey = modelOn(db, 'ApiKey', apiKeySchema);

  return {
    /** Creates a key; the secret is returned here and nowhere else, ever. */
    async issue(userId: string, name: string, expiresAt: Date | null = null) {
      const material = newKey();
      const doc = await ApiKey.create({
        _id: newId('key'),
        userId,
        name,
        hash: material.hash,
        start: material.start,
        expiresAt,
      });
      return { key: doc.toObject(), secret: material.secret };
    },

    async verify(secret: string, now = new Date()): Promise<KeyVerification> {
      if (!looksLikeKey(secret)) return { ok: false, reason: 'unknown' };
      return judgeKey(await this.findByHash(hashKey(secret)), now);
    },

    async findByHash(hash: string): Promise<ApiKeyDoc | null> {
      return ApiKey.findOne({ hash }).lean<ApiKeyDoc>();
    },

    async listForUser(userId: string): Promise<ApiKeyDoc[]> {
      return ApiKey.find({ userId }).sort({ createdAt: -1 }).lean<ApiKeyDoc[]>();
    },

    async findById(id: string): Promise<ApiKeyDoc | null> {
      return ApiKey.findById(id).lean<ApiKeyDoc>();
    },

    /** Idempotent: revoking a revoked key keeps its first revocation time. */
    async revoke(id: string, now = new Date()): Promise<ApiKeyDoc | null> {
      await ApiKey.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: now } });
      await invalidation.publish('key', id);
      return ApiKey.findById(id).lean<ApiKeyDoc>();
    },

    async revokeAllForUser(userId: string, now = new Date()): Promise<number> {
      const res = await ApiKey.updateMany({ userId, revokedAt: null }, { $set: { revokedAt: now } });
      await invalidation.publish('user', userId);
      return res.modifiedCount;
    },

    /** Last-used times arrive batched from the usage meter; `$max` keeps out-of-order batches harmless. */
    async touchLastUsed(seen: Map<string, Date>): Promise<void> {
      if (seen.size === 0) return;
      await ApiKey.bulkWrite(
        [...seen].map(([id, at]) => ({ updateOne: { filter: { _id: id }, update: { $max: { lastUsedAt: at } } } })),
        { ordered: false },
      );
    },
  };
}

export function judgeKey(key: ApiKeyDoc | null, now: Date): KeyVerification {
  if (!key) return { ok: false, reason: 'unknown' };
  if (key.revokedAt) return { ok: false, reason: 'revoked' };
  if (key.expiresAt && key.expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, key };
}

export function keyStatus(key: ApiKeyDoc, now = new Date()): KeySummary['status'] {
  const verdict = judgeKey(key, now);
  return verdict.ok ? 'active' : verdict.reason === 'revoked' ? 'revoked' : 'expired';
}

export function toKeySummary(key: ApiKeyDoc, now = new Date()): KeySummary {
  return {
    id: key._id,
    name: key.name,
    start: key.start,
    status: keyStatus(key, now),
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}
