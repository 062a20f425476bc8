import { clerkMiddleware } from '@clerk/nextjs/server';
import { NextResponse, type NextFetchEvent, type NextMiddleware, type NextRequest } from 'next/server';
import { loadConfig } from './config';

let clerk: NextMiddleware | null | undefined;

/**
 * Clerk's session check for the website. `jwtKey` is passed explicitly so sessions verify without a
 * network call (Clerk does not read CLERK_JWT_KEY by itself). Built on first use: env is only complete at run
 * time, not while `next build` loads this file.
 */
function clerkProxy(): NextMiddleware | null {
  if (clerk === undefined) {
    const config = loadConfig();
    const parties = (config.CLERK_AUTHORIZED_PARTIES ?? config.publicUrl).split(',').map((p) => p.trim()).filter(Boolean);
    clerk = config.clerkConfigured
      ? // The secret and publishable keys are read by Clerk from the same env; passing them here would make
        // Clerk require CLERK_ENCRYPTION_KEY to forward them.
        clerkMiddleware({ jwtKey: config.CLERK_JWT_KEY, authorizedParties: parties })
      : null;
  }
  return clerk;
}

export default function proxy(req: NextRequest, event: NextFetchEvent) {
  const handler = clerkProxy();
  return handler ? handler(req, event) : NextResponse.next();
}

export const config = {
  // The gateway (/v1, /api/v1) authenticates with gateway keys and never reaches Next; static files need no session.
  matcher: ['/((?!_next/|v1/|api/v1/|.*\\.(?:css|js|png|svg|ico|woff2?)$).*)'],
};
