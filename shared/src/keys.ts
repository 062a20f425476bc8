import { z } from 'zod';

export const keyStatusSchema = z.enum(['active', 'revoked', 'expired']);

/** A gateway key as shown to its owner: never the secret, only its display prefix. */
export const keySummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  start: z.string(),
  status: keyStatusSchema,
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  /** A provisioned key whose secret its owner has not seen yet (reveal it once). */
  secretPending: z.boolean(),
});
export type KeySummary = z.infer<typeof keySummarySchema>;

/** Returned exactly once, when a key is created or rotated. */
export const issuedKeySchema = z.object({
  key: keySummarySchema,
  secret: z.string(),
});
export type IssuedKey = z.infer<typeof issuedKeySchema>;

export const keyNameSchema = z.string().trim().min(1, 'name must not be empty').max(64, 'name must be at most 64 characters');

export const createKeyRequestSchema = z.object({ name: keyNameSchema });
export const updateKeyRequestSchema = z.object({ name: keyNameSchema });
export const keyListSchema = z.object({ keys: z.array(keySummarySchema) });
export const revealedSecretSchema = z.object({ secret: z.string() });
