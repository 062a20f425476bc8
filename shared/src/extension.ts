import { z } from 'zod';
import { keySummarySchema } from './keys';

/**
 * Schemes a browser runs or reads itself instead of handing to an app. The approval page sends the browser to
 * the registered redirect, so one of these would run an attacker's script on the website with the person's session.
 */
const BROWSER_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'filesystem:', 'about:']);

function isSafeRedirect(uri: string): boolean {
  try {
    return !BROWSER_SCHEMES.has(new URL(uri).protocol);
  } catch {
    return false;
  }
}

/**
 * The VS Code sign-in handshake (OAuth-style, with PKCE). The extension first registers the pending sign-in,
 * so the browser only ever carries a short opaque id: a redirect URL nested inside another URL does not
 * survive VS Code's openExternal.
 */
export const connectRequestSchema = z.object({
  redirectUri: z.string().url().max(2048).refine(isSafeRedirect, 'redirectUri must be an http(s) URL or an editor\'s own scheme such as vscode://'),
  state: z.string().min(16).max(128),
  codeChallenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'codeChallenge must be a base64url SHA-256 (43 characters)'),
  codeChallengeMethod: z.literal('S256'),
  deviceName: z.string().trim().min(1).max(80),
});
export type ConnectRequest = z.infer<typeof connectRequestSchema>;

export const connectRequestCreatedSchema = z.object({
  requestId: z.string(),
  connectUrl: z.string().url(),
  expiresAt: z.string(),
});
export type ConnectRequestCreated = z.infer<typeof connectRequestCreatedSchema>;

/** Approving on the website answers with where to send the browser: the extension's callback with code and state. */
export const connectApprovedSchema = z.object({ redirectTo: z.string().url() });

export const tokenRequestSchema = z.object({
  code: z.string().min(16).max(128),
  codeVerifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'codeVerifier must be 43-128 unreserved characters'),
});
export type TokenRequest = z.infer<typeof tokenRequestSchema>;

export const tokenResponseSchema = z.object({
  secret: z.string(),
  key: keySummarySchema,
  account: z.object({ email: z.string().nullable() }),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** `GET /v1/me`: who a gateway key belongs to and how much of today's quota it has used. */
export const meSchema = z.object({
  account: z.object({ id: z.string(), email: z.string().nullable() }),
  key: z.object({ id: z.string(), name: z.string(), start: z.string() }),
  today: z.object({ tokens: z.number(), limit: z.number(), requests: z.number() }),
});
export type Me = z.infer<typeof meSchema>;
