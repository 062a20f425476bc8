import type { KeySummary } from '@glm-gateway/shared';
import type { Connection } from '../db';
import type { Invalidation } from '../invalidation';
import { anyOf, bulkWriteBounded, isDuplicateKeyError, modelOn } from '../db';
import type { SecretBox } from './sealed';
import { apiKeySchema, keyActivitySchema, type ApiKeyDoc, type KeyActivityDoc } from './model';
import { hashKey, keyIdFor, looksLikeKey, newKey } from './secret';

export type KeyRejection = 'unknown' | 'revoked' | 'expired';
export type KeyVerification = { ok: true; key: ApiKeyDoc } | { ok: false; reason: KeyRejection };

export type KeyService = ReturnType<typeof createKeyService>;

export function createKeyService(db: Connection, invalidation: Pick<Invalidation, 'publish'>) {
  const ApiKey = modelOn(db, 'ApiKey', apiKeySchema);
  const KeyActivity = modelOn(db, 'KeyActivity', keyActivitySchema);

  return {
    /** Creates a key; the secret is returned here and nowhere else, ever. */
    async issue(userId: string, name: string, expiresAt: Date | null = null) {
      const material = newKey();
      const doc = await ApiKey.create({
        _id: material.id,
        userId,
        name,
        hash: material.hash,
        start: material.start,
        expiresAt,
      });
      return { key: doc.toObject(), secret: material.secret };
    },

    /**
     * The key every new user gets, with its secret sealed for the first dashboard visit. Idempotent: the
     * unique `defaultFor` makes a second call (a retried or duplicated webhook) return the first key.
     */
    async issueDefault(userId: string, box: SecretBox): Promise<{ key: ApiKeyDoc; created: boolean }> {
      const existing = await ApiKey.findOne({ defaultFor: userId }).lean<ApiKeyDoc>();
      if (existing) return { key: existing, created: false };
      const material = newKey();
      const { id } = material;
      try {
        const doc = await ApiKey.create({
          _id: id,
          userId,
          name: 'Default key',
          hash: material.hash,
          start: material.start,
          defaultFor: userId,
          sealedSecret: box.seal(material.secret, id),
        });
        return { key: doc.toObject(), created: true };
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        const winner = await ApiKey.findOne({ defaultFor: userId }).lean<ApiKeyDoc>();
        if (!winner) throw err;
        return { key: winner, created: false };
      }
    },

    /** Shows a provisioned secret once: it is removed in the same step, so a second reveal finds nothing. */
    async revealSealed(userId: string, id: string, box: SecretBox): Promise<string | null> {
      const key = await ApiKey.findOneAndUpdate(
        { _id: id, userId, revokedAt: null, sealedSecret: { $type: 'string' } },
        { $set: { sealedSecret: null } },
        { returnDocument: 'before' },
      ).lean<ApiKeyDoc>();
      return key?.sealedSecret ? box.open(key.sealedSecret, key._id) : null;
    },

    /** A key of this user, or null: another user's key id is indistinguishable from a missing one. */
    async findOwned(userId: string, id: string): Promise<ApiKeyDoc | null> {
      return ApiKey.findOne({ _id: id, userId }).lean<ApiKeyDoc>();
    },

    async rename(userId: string, id: string, name: string): Promise<ApiKeyDoc | null> {
      return ApiKey.findOneAndUpdate({ _id: id, userId }, { $set: { name } }, { returnDocument: 'after' }).lean<ApiKeyDoc>();
    },

    /** A new secret under the same name; the old key stops working at once. */
    async rotate(userId: string, id: string): Promise<{ key: ApiKeyDoc; secret: string } | null> {
      const old = await ApiKey.findOne({ _id: id, userId, revokedAt: null }).lean<ApiKeyDoc>();
      if (!old) return null;
      const issued = await this.issue(userId, old.name, old.expiresAt);
      await this.revoke(old._id);
      return issued;
    },

    async verify(secret: string, now = new Date()): Promise<KeyVerification> {
      if (!looksLikeKey(secret)) return { ok: false, reason: 'unknown' };
      return judgeKey(await this.findByHash(hashKey(secret)), now);
    },

    /** By `_id` alone: FerretDB 1.x reads the whole collection for a filter with any other field. */
    async findByHash(hash: string): Promise<ApiKeyDoc | null> {
      const key = await ApiKey.findById(keyIdFor(hash)).lean<ApiKeyDoc>();
      return key?.hash === hash ? key : null;
    },

    /** A user's keys, newest first, with when each was last used. */
    async listForUser(userId: string): Promise<ApiKeyDoc[]> {
      return (await this.listForUsers([userId])).get(userId) ?? [];
    },

    /** `listForUser` for a page of users in two reads, whatever the page size. */
    async listForUsers(userIds: string[]): Promise<Map<string, ApiKeyDoc[]>> {
      const keys = await ApiKey.find({ userId: anyOf(userIds) }).sort({ createdAt: -1 }).lean<ApiKeyDoc[]>();
      const activity = keys.length ? await KeyActivity.find({ _id: { $in: keys.map((k) => k._id) } }).lean<KeyActivityDoc[]>() : [];
      const lastUsed = new Map(activity.map((a) => [a._id, a.lastUsedAt]));
      const byUser = new Map<string, ApiKeyDoc[]>(userIds.map((id) => [id, []]));
      for (const k of keys) byUser.get(k.userId)?.push({ ...k, lastUsedAt: lastUsed.get(k._id) ?? null });
      return byUser;
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
      await bulkWriteBounded(
        KeyActivity,
        [...seen].map(([id, at]) => ({ updateOne: { filter: { _id: id }, update: { $max: { lastUsedAt: at } }, upsert: true } })),
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
    secretPending: Boolean(key.sealedSecret),
    id: key._id,
    name: key.name,
    start: key.start,
    status: keyStatus(key, now),
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}
