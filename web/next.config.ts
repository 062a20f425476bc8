import type { NextConfig } from 'next';

/**
 * Sent with every response Next serves, build output included (nosniff matters most for scripts and styles).
 * The Content-Security-Policy comes from src/proxy.ts, which needs a fresh nonce per page.
 */
const securityHeaders = [
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  // Older browsers' form of CSP frame-ancestors 'none': no page of ours may be framed (clickjacking).
  { key: 'X-Frame-Options', value: 'DENY' },
  { key: 'Referrer-Policy', value: 'strict-origin-when-cross-origin' },
  { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=()' },
];

const nextConfig: NextConfig = {
  transpilePackages: ['@glm-gateway/shared'],
  serverExternalPackages: ['mongoose', 'pino', 'js-tiktoken'],
  poweredByHeader: false,
  async headers() {
    return [{ source: '/:path*', headers: securityHeaders }];
  },
};

export default nextConfig;
