import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

/** The database `npm start` runs when MONGODB_URI is unset (see web/scripts/start.sh). */
export const LOCAL_MONGODB_URI = 'mongodb://127.0.0.1:27117/glm-gateway';

const intFrom = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

const modelMapSchema = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    // "glm-4.6,fast=glm-4.5-air": a bare id is allowed as itself; alias=id exposes id under another name.
    const map = new Map<string, string>();
    for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [alias, target = alias] = entry.split('=').map((s) => s.trim());
      if (!alias || !target || !/^[A-Za-z0-9._:/@-]+$/.test(alias) || !/^[A-Za-z0-9._:/@-]+$/.test(target)) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is not a model id or alias=id pair` });
        return z.NEVER;
      }
      map.set(alias, target);
    }
    return map;
  });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFrom(3000, 0).pipe(z.number().max(65535)),
  PUBLIC_URL: z.url().optional(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// connection string'),
  UPSTREAM_PROVIDER: z.enum(['glm', 'openai']).default('glm'),
  UPSTREAM_BASE_URL: z.url().default('https://open.bigmodel.cn/api/paas/v4'),
  UPSTREAM_API_KEY: z.string().min(1).optional(),
  MODELS: modelMapSchema,
  UPSTREAM_CONNECT_TIMEOUT_MS: intFrom(5_000, 1),
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: intFrom(60_000, 1),
  UPSTREAM_IDLE_TIMEOUT_MS: intFrom(120_000, 1),
  // A stream holds its connection for its whole life: this caps the streams one instance relays at once.
  UPSTREAM_CONNECTIONS: intFrom(4096, 1),
  MAX_REQUEST_BYTES: intFrom(4 * 1024 * 1024, 1024),
  MAX_RESPONSE_BYTES: intFrom(32 * 1024 * 1024, 1024),
  DEFAULT_RPM: intFrom(60, 1),
  DEFAULT_DAILY_TOKENS: intFrom(1_000_000, 1),
  COMPLETION_RESERVE_TOKENS: intFrom(4_096, 1),
  AUTH_CACHE_TTL_MS: intFrom(30_000, 0),
  INVALIDATION_POLL_MS: intFrom(500, 50),
  USAGE_FLUSH_MS: intFrom(250, 10),
  SHUTDOWN_GRACE_MS: intFrom(25_000, 0),
  USAGE_BUFFER_MAX: intFrom(100_000, 100),
  USAGE_EVENT_RETENTION_DAYS: intFrom(90, 1),
  NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_/, 'must start with pk_test_ or pk_live_').optional(),
  CLERK_SECRET_KEY: z.string().regex(/^sk_(test|live)_/, 'must start with sk_test_ or sk_live_').optional(),
  CLERK_JWT_KEY: z.string().min(1).optional(),
  CLERK_WEBHOOK_SIGNING_SECRET: z.string().regex(/^whsec_/, 'must start with whsec_').optional(),
  CLERK_AUTHORIZED_PARTIES: z.string().optional(),
  ADMIN_USER_IDS: z.string().default(''),
  KEY_SEALING_SECRET: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof envSchema> & { publicUrl: string; clerkConfigured: boolean };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads `.env` (if present) and the environment once; a bad value fails here, naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dotenvDir = process.cwd()): Config {
  const dotenv = resolve(dotenvDir, '.env');
  if (env === process.env && existsSync(dotenv)) process.loadEnvFile(dotenv);
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(blankAsUnset);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nSee .env.example for every variable.`);
  }
  const c = parsed.data;
  if ((c.CLERK_WEBHOOK_SIGNING_SECRET || c.CLERK_SECRET_KEY) && !c.KEY_SEALING_SECRET) {
    throw new ConfigError('Invalid configuration:\n  KEY_SEALING_SECRET: required once Clerk is configured (it seals provisioned keys)\nSee .env.example for every variable.');
  }
  return {
    ...c,
    publicUrl: (c.PUBLIC_URL ?? `http://${c.HOST}:${c.PORT}`).replace(/\/$/, ''),
    clerkConfigured: Boolean(c.NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY && c.CLERK_SECRET_KEY),
  };
}
