import { randomBytes } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { Webhook } from 'svix';

/**
 * Stands in for Clerk's side of the wire, offline: our own RS256 key signs session tokens (the server
 * verifies them with CLERK_JWT_KEY, as with a real instance's key), and svix's own signer signs webhooks.
 */
export interface FakeClerk {
  env: Record<string, string>;
  sessionToken(clerkId: string, opts?: { azp?: string; expiresIn?: string; claims?: Record<string, unknown> }): Promise<string>;
  /** Signs a delivery exactly as svix does; `at` moves the timestamp (for stale-delivery tests). */
  sign(payload: unknown, opts?: { id?: string; at?: Date }): { body: string; headers: Record<string, string> };
  /** What Clerk's Frontend API hands back at the end of a sign-in handshake: the cookies the app is to set. */
  handshakeToken(cookies: string[]): Promise<string>;
}

const FRONTEND_API = 'clerk.glm-gateway.test';

export async function createFakeClerk(): Promise<FakeClerk> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const webhook = new Webhook(webhookSecret);
  return {
    env: {
      NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: `pk_test_${Buffer.from(`${FRONTEND_API}$`).toString('base64')}`,
      CLERK_SECRET_KEY: `sk_test_${randomBytes(16).toString('hex')}`,
      CLERK_JWT_KEY: await exportSPKI(publicKey),
      CLERK_WEBHOOK_SIGNING_SECRET: webhookSecret,
      KEY_SEALING_SECRET: randomBytes(32).toString('base64'),
    },
    sessionToken: (clerkId, opts = {}) => mint(privateKey, clerkId, opts),
    handshakeToken: (cookies) => new SignJWT({ handshake: cookies }).setProtectedHeader({ alg: 'RS256', kid: 'ins_test', typ: 'JWT' }).sign(privateKey),
    sign(payload, opts = {}) {
      const id = opts.id ?? `msg_${randomBytes(12).toString('hex')}`;
      const at = opts.at ?? new Date();
      const body = JSON.stringify(payload);
      return {
        body,
        headers: {
          'content-type': 'application/json',
          'svix-id': id,
          'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
          'svix-signature': webhook.sign(id, at, body),
        },
      };
    },
  };
}

function mint(key: CryptoKey, clerkId: string, opts: { azp?: string; expiresIn?: string; claims?: Record<string, unknown> }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: `sess_${randomBytes(8).toString('hex')}`, ...(opts.azp ? { azp: opts.azp } : {}), ...opts.claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'ins_test', typ: 'JWT' })
    .setSubject(clerkId)
    .setIssuer(`https://${FRONTEND_API}`)
    .setIssuedAt(now - 5)
    .setNotBefore(now - 5)
    .setExpirationTime(opts.expiresIn ?? '10m')
    .sign(key);
}

/** A Clerk `user.*` webhook payload as Clerk sends it. */
export function clerkUserEvent(type: 'user.created' | 'user.updated', user: { id: string; email: string; first?: string; last?: string; updatedAt?: number }) {
  return {
    type,
    object: 'event',
    timestamp: Date.now(),
    data: {
      id: user.id,
      object: 'user',
      email_addresses: [{ id: `idn_${user.id}`, email_address: user.email, object: 'email_address' }],
      primary_email_address_id: `idn_${user.id}`,
      first_name: user.first ?? null,
      last_name: user.last ?? null,
      created_at: Date.now(),
      updated_at: user.updatedAt ?? Date.now(),
      public_metadata: {},
    },
  };
}

export function clerkDeletedEvent(id: string) {
  return { type: 'user.deleted', object: 'event', timestamp: Date.now(), data: { id, object: 'user', deleted: true } };
}
