import { createHash, randomBytes } from 'node:crypto';
import type { ConnectRequest, TokenResponse } from '@glm-gateway/shared';
import { isDuplicateKeyError, modelOn, type Connection } from '../db';
import { toKeySummary, type KeyService } from '../keys';
import type { UserService } from '../users';
import { withCallbackParams } from './callback-url';
import { connectRequestSchema, spentCodeSchema, type ConnectRequestDoc } from './model';

const REQUEST_TTL_MS = 10 * 60_000;
const CODE_TTL_MS = 5 * 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

export type ApproveResult = { ok: true; redirectTo: string } | { ok: false; reason: 'not_found' | 'expired' | 'already_approved' };
export type ExchangeResult = { ok: true; token: TokenResponse } | { ok: false; message: string };

export type ExtensionAuth = ReturnType<typeof createExtensionAuth>;

/**
 * VS Code sign-in, the way Copilot and Cody do it: the extension registers a pending sign-in with a PKCE
 * challenge, the person approves it on the website, the website hands the extension a one-time code, and the
 * extension trades code + verifier for a gateway key of its own.
 */
export function createExtensionAuth(deps: { db: Connection; keys: KeyService; users: UserService; publicUrl: string }) {
  const Request = modelOn(deps.db, 'ExtensionConnectRequest', connectRequestSchema);
  const SpentCode = modelOn(deps.db, 'ExtensionSpentCode', spentCodeSchema);

  return {
    async register(input: ConnectRequest, now = new Date()) {
      const id = `cnr_${randomBytes(16).toString('base64url')}`;
      const expiresAt = new Date(now.getTime() + REQUEST_TTL_MS);
      await Request.create({ _id: id, redirectUri: input.redirectUri, state: input.state, codeChallenge: input.codeChallenge, deviceName: input.deviceName, expiresAt });
      return { requestId: id, connectUrl: `${deps.publicUrl}/extension/connect?request=${id}`, expiresAt: expiresAt.toISOString() };
    },

    async find(id: string, now = new Date()): Promise<(ConnectRequestDoc & { expired: boolean }) | null> {
      const doc = await Request.findById(id).lean<ConnectRequestDoc>();
      return doc ? { ...doc, expired: doc.expiresAt <= now } : null;
    },

    /** The signed-in person says yes: mint a one-time code bound to them and send the browser back. */
    async approve(id: string, userId: string, now = new Date()): Promise<ApproveResult> {
      const doc = await Request.findById(id).lean<ConnectRequestDoc>();
      if (!doc) return { ok: false, reason: 'not_found' };
      if (doc.expiresAt <= now) return { ok: false, reason: 'expired' };
      if (doc.approvedBy) return { ok: false, reason: 'already_approved' };
      const code = randomBytes(32).toString('base64url');
      const res = await Request.updateOne(
        { _id: id, approvedBy: null },
        { $set: { approvedBy: userId, codeHash: sha256(code), codeExpiresAt: new Date(now.getTime() + CODE_TTL_MS) } },
      );
      if (res.modifiedCount !== 1) return { ok: false, reason: 'already_approved' };
      return { ok: true, redirectTo: withCallbackParams(doc.redirectUri, { code, state: doc.state }) };
    },

    /** Code + verifier for a new gateway key. A code works once: any attempt, right or wrong, spends it. */
    async exchange(code: string, verifier: string, now = new Date()): Promise<ExchangeResult> {
      const codeHash = sha256(code);
      const doc = await Request.findOne({ codeHash }).lean<ConnectRequestDoc>();
      const invalid: ExchangeResult = { ok: false, message: 'The authorization code is invalid, expired or already used. Sign in again.' };
      if (!doc?.approvedBy || !doc.codeExpiresAt) return invalid;
      try {
        await SpentCode.create({ _id: codeHash, at: now });
      } catch (err) {
        if (isDuplicateKeyError(err)) return invalid;
        throw err;
      }
      if (doc.codeExpiresAt <= now) return invalid;
      if (s256(verifier) !== doc.codeChallenge) return { ok: false, message: 'The code verifier does not match this sign-in. Sign in again.' };
      const user = await deps.users.findById(doc.approvedBy);
      if (!user || user.status !== 'active') return invalid;
      const { key, secret } = await deps.keys.issue(user._id, `VS Code on ${doc.deviceName}`);
      return { ok: true, token: { secret, key: toKeySummary(key), account: { email: user.email ?? null } } };
    },
  };
}
