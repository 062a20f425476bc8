import { ClerkProvider } from '@clerk/nextjs';
import type { ReactNode } from 'react';
import { getServices } from '@/services';
import './globals.css';

export const metadata = { title: 'glm-gateway', description: 'Your personal gateway to the team model.' };

// Every page depends on run-time configuration (is sign-in set up?), so none is prerendered at build time.
export const dynamic = 'force-dynamic';

export default async function RootLayout({ children }: { children: ReactNode }) {
  const { config } = await getServices();
  const page = (
    <html lang="en">
      <body>
        <header className="topbar">
          <a href="/" className="brand">glm-gateway</a>
          <nav>{config.clerkConfigured ? <a href="/dashboard">Dashboard</a> : null}</nav>
        </header>
        {children}
      </body>
    </html>
  );
  // Clerk's widgets load from its servers; nothing on our pages depends on them to render or work.
  // `dynamic` renders Clerk's loader on the server, where it gets the CSP nonce (src/proxy.ts).
  return config.clerkConfigured ? <ClerkProvider dynamic publishableKey={config.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY}>{page}</ClerkProvider> : page;
}
