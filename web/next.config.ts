import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  transpilePackages: ['@glm-gateway/shared'],
  serverExternalPackages: ['mongoose', 'pino', 'js-tiktoken'],
  poweredByHeader: false,
};

export default nextConfig;
