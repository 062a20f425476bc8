import { auth } from '@clerk/nextjs/server';
import { gatewayErrorCodes } from '@glm-gateway/shared';
import type { z } from 'zod';
import { readBodyText, readJson, type BodyRefusal, type RawBody } from '../modules/gateway';
import type { UserDoc } from '../modules/users';
import { getServices, type Services } from '../services';

/** The website API's one error shape. */
export function apiError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status, headers: { 'cache-control': 'no-store' } });
}

type SignedIn = { ok: true; user: UserDoc; clerkId: string; claims: Record<string, unknown>; services: Services & { provisioning: NonNullable<Services['provisioning']> } };
export type AccountResolution = SignedIn | { ok: false; status: 401 | 403 | 503; code: string; message: string };

/**
 * The signed-in person's account, from a Clerk session (cookie or `Authorization: Bearer`). Someone whose
 * `user.created` webhook has not arrived yet is provisioned here, by the same code path.
 */
export async function resolveAccount(): Promise<AccountResolution> {
  const services = await getServices();
  const { provisioning } = services;
  if (!services.config.clerkConfigured || !provisioning) return { ok: false, status: 503, code: 'sign_in_not_configured', message: 'Sign-in is not configured on this server.' };
  const session = await auth();
  if (!session.userId) return { ok: false, status: 401, code: 'unauthenticated', message: 'Sign in to use this API.' };
  const claims = (session.sessionClaims ?? {}) as Record<string, unknown>;
  const user =
    (await services.users.findByClerkId(session.userId)) ??
    (await provisioning.ensureAccount({
      clerkId: session.userId,
      email: typeof claims.email === 'string' ? claims.email : null,
      name: typeof claims.name === 'string' ? claims.name : null,
      at: null,
    }));
  if (user.status === 'deleted') return { ok: false, status: 401, code: 'account_deleted', message: 'This account has been deleted.' };
  if (user.status === 'suspended') return { ok: false, status: 403, code: 'account_suspended', message: 'This account is suspended.' };
  return { ok: true, user, clerkId: session.userId, claims, services: { ...services, provisioning } };
}

/**
 * Admins: a Clerk user whose session carries `role: "admin"` (from public metadata, through the session
 * token template `{"metadata": "{{user.public_metadata}}"}`), or whose Clerk id is in ADMIN_USER_IDS.
 */
export async function resolveAdmin(): Promise<AccountResolution> {
  const account = await resolveAccount();
  if (!account.ok) return account;
  const listed = account.services.config.ADMIN_USER_IDS.split(',').map((s) => s.trim()).includes(account.clerkId);
  const metadata = account.claims.metadata as { role?: unknown } | undefined;
  if (listed || metadata?.role === 'admin' || account.claims.role === 'admin') return account;
  return { ok: false, status: 403, code: 'forbidden', message: 'This needs an administrator.' };
}

/** `resolveAdmin` for API routes. */
export async function currentAdmin(): Promise<SignedIn | { ok: false; response: Response }> {
  const admin = await resolveAdmin();
  return admin.ok ? admin : { ok: false, response: apiError(admin.status, admin.code, admin.message) };
}

/** `resolveAccount` for API routes: a refusal comes back as the response to send. */
export async function currentAccount(): Promise<SignedIn | { ok: false; response: Response }> {
  const account = await resolveAccount();
  return account.ok ? account : { ok: false, response: apiError(account.status, account.code, account.message) };
}

/** The website API's bodies are a name, a reason or a sign-in request: a few hundred bytes. */
const MAX_API_BODY_BYTES = 64 * 1024;

function rawBody(req: Request): RawBody {
  return { contentType: req.headers.get('content-type'), contentLength: req.headers.get('content-length'), chunks: chunksOf(req.body) };
}

/** A fetch body's chunks; a reader that stops early cancels the rest, so a refused upload is not read on. */
async function* chunksOf(stream: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!stream) return;
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield value;
    }
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

function refused(refusal: BodyRefusal): { ok: false; response: Response } {
  return { ok: false, response: apiError(gatewayErrorCodes[refusal.code].status, refusal.code, refusal.message) };
}

/**
 * Parses a JSON body against a shared schema. A body that is not JSON (415, which also keeps cross-site
 * `text/plain` form posts out), too large (413), not UTF-8 or too deeply nested (400) never reaches the schema;
 * a bad field becomes a 400 naming it.
 */
export async function readBody<T>(req: Request, schema: z.ZodType<T>): Promise<{ ok: true; value: T } | { ok: false; response: Response }> {
  const read = await readJson(rawBody(req), MAX_API_BODY_BYTES);
  if (!read.ok) return refused(read.refusal);
  const parsed = schema.safeParse(read.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, response: apiError(400, 'invalid_request', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid value'}`) };
}

/** The raw body as text, at most `maxBytes` of strict UTF-8: for signed payloads that must be verified as sent. */
export async function readText(req: Request, maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; response: Response }> {
  const read = await readBodyText(rawBody(req), maxBytes);
  return read.ok ? { ok: true, text: read.text } : refused(read.refusal);
}
