import type { Services } from '../../services';

export interface Health {
  status: 'ok' | 'degraded';
  database: 'up' | 'down';
  upstream: { configured: boolean; provider: string };
  signIn: { configured: boolean };
}

/** What an operator or a load balancer needs to know, and nothing secret: no URL, no key. */
export async function checkHealth(s: Pick<Services, 'db' | 'config'>): Promise<Health> {
  const database = await s.db
    .db!.command({ ping: 1 })
    .then(() => 'up' as const)
    .catch(() => 'down' as const);
  const configured = Boolean(s.config.UPSTREAM_API_KEY);
  return {
    status: database === 'up' && configured ? 'ok' : 'degraded',
    database,
    upstream: { configured, provider: s.config.UPSTREAM_PROVIDER },
    signIn: { configured: s.config.clerkConfigured },
  };
}
