import { clerkMiddleware } from '@clerk/nextjs/server';
import { NextResponse, type NextFetchEvent, type NextMiddleware, type NextRequest } from 'next/server';
import { loadConfig } from './config';

interface Site {
  /** Clerk's session check, or null when sign-in is not configured. */
  clerk: NextMiddleware | null;
  /** Where Clerk's browser script and API live (from the publishable key), or null without Clerk. */
  clerkFrontendApi: string | null;
  dev: boolean;
  /** Served over HTTPS (by its public URL): browsers are told to keep to it. Over plain HTTP the header means nothing. */
  https: boolean;
}

let site: Site | undefined;

/**
 * Built on first use: env is only complete at run time, not while `next build` loads this file. `jwtKey` is
 * passed explicitly so sessions verify without a network call (Clerk does not read CLERK_JWT_KEY by itself).
 */
function currentSite(): Site {
  if (!site) {
    const config = loadConfig();
    const parties = (config.CLERK_AUTHORIZED_PARTIES ?? config.publicUrl).split(',').map((p) => p.trim()).filter(Boolean);
    site = {
      clerk: config.clerkConfigured
        ? // The secret and publishable keys are read by Clerk from the same env; passing them here would make
          // Clerk require CLERK_ENCRYPTION_KEY to forward them.
          clerkMiddleware((_auth, req) => withSecurityHeaders(req), { jwtKey: config.CLERK_JWT_KEY, authorizedParties: parties })
        : null,
      clerkFrontendApi: config.clerkConfigured ? frontendApiOf(config.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY ?? '') : null,
      dev: config.NODE_ENV !== 'production',
      https: config.publicUrl.startsWith('https://'),
    };
  }
  return site;
}

/** A publishable key is `pk_<env>_` + base64 of the instance's Frontend API host and a `$`. */
function frontendApiOf(publishableKey: string): string | null {
  const host = Buffer.from(publishableKey.replace(/^pk_(test|live)_/, ''), 'base64').toString('utf8').replace(/\$$/, '');
  return /^[a-z0-9.-]+(:\d+)?$/i.test(host) ? `https://${host}` : null;
}

/**
 * A nonce-based policy: only scripts carrying this response's nonce run, and whatever they load
 * ('strict-dynamic'), so an injected <script> or inline handler does not. Next puts the nonce on its own
 * scripts and Clerk on its loader when they find it in the request headers. Styles stay 'unsafe-inline':
 * Clerk's components and the charts set inline styles. The hosts after the nonce are for browsers without
 * 'strict-dynamic', which ignore the nonce and fall back to them.
 */
function contentSecurityPolicy(nonce: string, s: Site): string {
  // What Clerk's sign-in needs: its script and API, user avatars, and Cloudflare Turnstile (bot protection on
  // sign-up), which runs a script and a frame.
  const turnstile = 'https://challenges.cloudflare.com';
  const clerk = s.clerkFrontendApi;
  const directives: [string, ...string[]][] = [
    ['default-src', "'self'"],
    ['script-src', "'self'", `'nonce-${nonce}'`, "'strict-dynamic'", ...(clerk ? [clerk, turnstile] : []), ...(s.dev ? ["'unsafe-eval'"] : [])],
    ['style-src', "'self'", "'unsafe-inline'"],
    ['img-src', "'self'", 'data:', 'blob:', ...(clerk ? ['https://img.clerk.com'] : [])],
    ['font-src', "'self'", 'data:'],
    ['connect-src', "'self'", ...(clerk ? [clerk] : [])],
    ['frame-src', "'self'", ...(clerk ? [turnstile] : [])],
    ['worker-src', "'self'", 'blob:'],
    ['frame-ancestors', "'none'"],
    ['object-src', "'none'"],
    ['base-uri', "'self'"],
    ['form-action', "'self'"],
  ];
  return directives.map((d) => d.join(' ')).join('; ');
}

/** Lets the request through with a fresh nonce for the page, and the policy that names it on the response. */
function withSecurityHeaders(req: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  const policy = contentSecurityPolicy(nonce, currentSite());
  // Set, not appended: a caller's own content-security-policy or x-nonce header must not choose the nonce.
  const headers = new Headers(req.headers);
  headers.set('content-security-policy', policy);
  headers.set('x-nonce', nonce);
  const res = NextResponse.next({ request: { headers } });
  res.headers.set('content-security-policy', policy);
  // A year, this host only: other hosts under the operator's domain may not all speak HTTPS.
  if (currentSite().https) res.headers.set('strict-transport-security', 'max-age=31536000');
  return res;
}

export default function proxy(req: NextRequest, event: NextFetchEvent) {
  const { clerk } = currentSite();
  return clerk ? clerk(req, event) : withSecurityHeaders(req);
}

export const config = {
  // The gateway (/v1, /api/v1) authenticates with gateway keys and never reaches Next, and /_next/ holds only
  // build output. Nothing else is skipped: a route that runs without the proxy has no session (Clerk's
  // auth() fails) and no CSP, so a skip by file extension let `/api/keys/x.png` answer 500.
  matcher: ['/((?!_next/|v1/|api/v1/).*)'],
};
