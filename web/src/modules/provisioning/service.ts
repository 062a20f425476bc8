import { Webhook, WebhookVerificationError } from 'svix';
import { z } from 'zod';
import type { Connection } from '../db';
import { isDuplicateKeyError, modelOn } from '../db';
import type { KeyService, SecretBox } from '../keys';
import type { ClerkProfile, UserDoc, UserService } from '../users';
import { webhookDeliverySchema } from './model';

const emailSchema = z.looseObject({ id: z.string(), email_address: z.string() });
const clerkUserSchema = z.looseObject({
  id: z.string().min(1),
  email_addresses: z.array(emailSchema).default([]),
  primary_email_address_id: z.string().nullable().optional(),
  first_name: z.string().nullable().optional(),
  last_name: z.string().nullable().optional(),
  updated_at: z.number().optional(),
});

/** The Clerk events we act on; anything else is acknowledged and ignored. */
const clerkEventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('user.created'), data: clerkUserSchema }),
  z.looseObject({ type: z.literal('user.updated'), data: clerkUserSchema }),
  z.looseObject({ type: z.literal('user.deleted'), data: z.looseObject({ id: z.string().min(1) }), timestamp: z.number().optional() }),
]);

export type WebhookOutcome =
  | { ok: true; result: 'processed' | 'duplicate' | 'ignored' }
  | { ok: false; reason: 'invalid_payload'; message: string };

export function profileFromClerk(data: z.infer<typeof clerkUserSchema>): ClerkProfile {
  const primary = data.email_addresses.find((e) => e.id === data.primary_email_address_id) ?? data.email_addresses[0];
  const name = [data.first_name, data.last_name].filter(Boolean).join(' ');
  return { clerkId: data.id, email: primary?.email_address ?? null, name: name || null, at: data.updated_at ? new Date(data.updated_at) : null };
}

export type Provisioning = ReturnType<typeof createProvisioning>;

/**
 * Turns "Clerk says this person exists" into an account with limits and a gateway key. Webhooks and first
 * visits go through `ensureAccount`, and every step is idempotent on its own (unique indexes, not luck), so
 * retries, duplicates delivered at the same moment and events out of order all end in one user and one key.
 */
export function createProvisioning(deps: { db: Connection; users: UserService; keys: KeyService; box: SecretBox }) {
  const Delivery = modelOn(deps.db, 'WebhookDelivery', webhookDeliverySchema);

  async function ensureAccount(profile: ClerkProfile): Promise<UserDoc> {
    const { user } = await deps.users.upsertFromClerk(profile);
    if (user.status !== 'deleted') await deps.keys.issueDefault(user._id, deps.box);
    return user;
  }

  return {
    ensureAccount,

    /** A provisioned key's secret, once; null when it was already shown (or never sealed). */
    revealSecret(userId: string, keyId: string): Promise<string | null> {
      return deps.keys.revealSealed(userId, keyId, deps.box);
    },

    /** Applies one verified webhook delivery; `deliveryId` is svix's message id. */
    async handleClerkWebhook(deliveryId: string, payload: unknown): Promise<WebhookOutcome> {
      if (await Delivery.exists({ _id: deliveryId })) return { ok: true, result: 'duplicate' };
      const type = (payload as { type?: unknown } | null)?.type;
      if (type !== 'user.created' && type !== 'user.updated' && type !== 'user.deleted') {
        return { ok: true, result: 'ignored' };
      }
      const parsed = clerkEventSchema.safeParse(payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { ok: false, reason: 'invalid_payload', message: `${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}` };
      }
      const event = parsed.data;
      if (event.type === 'user.deleted') {
        const user = await deps.users.markDeletedByClerkId(event.data.id, new Date(event.timestamp ?? Date.now()));
        await deps.keys.revokeAllForUser(user._id);
      } else {
        // An update that overtakes its create is applied the same way: whichever comes first creates.
        await ensureAccount(profileFromClerk(event.data));
      }
      // Recorded after the work, so a delivery that failed halfway is done again on retry.
      await Delivery.create({ _id: deliveryId, type: event.type, receivedAt: new Date() }).catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err;
      });
      return { ok: true, result: 'processed' };
    },
  };
}

export type DeliveryVerification = { ok: true; id: string; payload: unknown } | { ok: false; message: string };

/**
 * Checks a webhook delivery's svix signature and timestamp over the raw body before anything reads it.
 * Unsigned, tampered and stale (outside svix's five-minute tolerance) deliveries are refused here.
 */
export function verifyClerkDelivery(secret: string, rawBody: string, headers: Headers): DeliveryVerification {
  const id = headers.get('svix-id');
  const timestamp = headers.get('svix-timestamp');
  const signature = headers.get('svix-signature');
  if (!id || !timestamp || !signature) return { ok: false, message: 'Missing svix-id, svix-timestamp or svix-signature header.' };
  try {
    const payload: unknown = new Webhook(secret).verify(rawBody, { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': signature });
    return { ok: true, id, payload };
  } catch (err) {
    if (err instanceof WebhookVerificationError) return { ok: false, message: `Webhook verification failed: ${err.message}.` };
    throw err;
  }
}
