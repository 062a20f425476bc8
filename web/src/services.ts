import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadConfig, type Config } from './config';
import { newId } from './lib/ids';
import { createLogger, type Logger } from './lib/logger';
import type { WorkerMessage } from './lib/next-worker';
import { connectDatabase, syncIndexes, type Connection } from './modules/db';
import { createAuthenticator, createGatewayHandler, createModelCatalog, createUpstreamClient, providers, UpstreamCredential } from './modules/gateway';
import { createAdmin, type Admin } from './modules/admin';
import { createCredits, type Credits } from './modules/credits';
import { createExtensionAuth, type ExtensionAuth } from './modules/extension-auth';
import { createInvalidation, type Invalidation, type InvalidationEvent } from './modules/invalidation';
import { createKeyService, createSecretBox, type KeyService } from './modules/keys';
import { createRateLimiter } from './modules/limits';
import { createProvisioning, type Provisioning } from './modules/provisioning';
import { createUsageMeter, createUsageQueries, type UsageMeter, type UsageQueries } from './modules/usage';
import { createUserService, type UserService } from './modules/users';

export interface Services {
  config: Config;
  log: Logger;
  db: Connection;
  users: UserService;
  keys: KeyService;
  usage: UsageQueries;
  invalidation: Invalidation;
  extensionAuth: ExtensionAuth;
  credits: Credits;
  admin: Admin;
  /** Present once sign-in is configured (it needs KEY_SEALING_SECRET). */
  provisioning?: Provisioning;
  /** Present in the gateway process only: the website and the CLI never relay. */
  gateway?: { handle(req: IncomingMessage, res: ServerResponse): Promise<void>; meter: UsageMeter };
  close(): Promise<void>;
}

/** Builds every long-lived object once: the one place that knows how the modules fit together. */
export async function createServices(config: Config, opts: { gateway: boolean; notifyPeer?: (e: InvalidationEvent) => void; log?: Logger }): Promise<Services> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const db = await connectDatabase(config.MONGODB_URI);
  const invalidation = createInvalidation(db, config.INVALIDATION_POLL_MS, log, opts.notifyPeer);
  const users = createUserService(db, { rpm: config.DEFAULT_RPM, dailyTokens: config.DEFAULT_DAILY_TOKENS }, invalidation);
  const keys = createKeyService(db, invalidation);
  const usage = createUsageQueries(db);
  const credits = createCredits(db, usage.tokensPerDay);
  const admin = createAdmin({ db, users, keys, usage, credits, invalidation });
  const extensionAuth = createExtensionAuth({ db, keys, users, publicUrl: config.publicUrl });
  const provisioning = config.KEY_SEALING_SECRET
    ? createProvisioning({ db, users, keys, box: createSecretBox(Buffer.from(config.KEY_SEALING_SECRET, 'base64')) })
    : undefined;
  const closers: (() => Promise<void>)[] = [];

  let gateway: Services['gateway'];
  if (opts.gateway) {
    const upstream = createUpstreamClient({
      baseUrl: config.UPSTREAM_BASE_URL,
      credential: new UpstreamCredential(config.UPSTREAM_API_KEY),
      connections: config.UPSTREAM_CONNECTIONS,
      connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
      firstByteTimeoutMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
    });
    const meter = createUsageMeter(db, { instance: newId('ins'), flushMs: config.USAGE_FLUSH_MS, maxBuffered: config.USAGE_BUFFER_MAX, touchKeys: keys.touchLastUsed, log });
    const limiter = createRateLimiter(db, log);
    invalidation.start();
    const handle = createGatewayHandler({
      authenticate: createAuthenticator({ keys, users, invalidation, ttlMs: config.AUTH_CACHE_TTL_MS, creditBalance: (userId, dailyTokens) => credits.balance(userId, dailyTokens) }),
      limiter,
      catalog: createModelCatalog(config.MODELS, upstream.configured ? upstream.listModels : async () => [], log),
      upstream,
      provider: providers[config.UPSTREAM_PROVIDER],
      meter,
      maxRequestBytes: config.MAX_REQUEST_BYTES,
      maxResponseBytes: config.MAX_RESPONSE_BYTES,
      clientIdleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
      completionReserveTokens: config.COMPLETION_RESERVE_TOKENS,
      self: {
        async describe(p) {
          const [user, key, today] = await Promise.all([users.findById(p.userId), keys.findById(p.keyId), usage.today(p.userId, p.limits.dailyTokens)]);
          return {
            account: { id: p.userId, email: user?.email ?? null },
            key: { id: p.keyId, name: key?.name ?? '', start: key?.start ?? '' },
            today,
          };
        },
        async revoke(p) {
          await keys.revoke(p.keyId);
        },
      },
      log,
    });
    gateway = { handle, meter };
    // Raw usage events expire (rollups stay): FerretDB has no TTL indexes, so an hourly sweep deletes them.
    const prune = () => void usage.pruneEvents(config.USAGE_EVENT_RETENTION_DAYS).catch((err: unknown) => log.warn({ err: String(err) }, 'usage event prune failed'));
    const pruner = setInterval(prune, 3_600_000).unref();
    closers.push(async () => clearInterval(pruner), () => meter.close(), () => limiter.close(), () => upstream.close());
  }
  // Every model is registered by now. Creating collections and unique indexes up front matters on FerretDB,
  // where concurrent first inserts into a missing collection do not reliably enforce `_id` uniqueness.
  await syncIndexes(db);

  return {
    config,
    log,
    db,
    users,
    keys,
    usage,
    invalidation,
    extensionAuth,
    credits,
    admin,
    provisioning,
    gateway,
    async close() {
      invalidation.stop();
      for (const close of closers) await close().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown step failed'));
      await db.close();
    },
  };
}

const GLOBAL_KEY = Symbol.for('glm-gateway.services');
type WithServices = typeof globalThis & { [GLOBAL_KEY]?: Promise<Services> };

/**
 * The website process's services, built on first use. Next's route bundles each carry their own copy of this
 * file, so the one instance is kept on globalThis. (The gateway's process builds its own with createServices.)
 */
export function getServices(): Promise<Services> {
  const g = globalThis as WithServices;
  // Under web/server.ts, revocations and suspensions reach the gateway's caches over IPC at once.
  const notifyPeer = process.send ? (invalidate: InvalidationEvent) => void process.send?.({ invalidate } satisfies WorkerMessage) : undefined;
  g[GLOBAL_KEY] ??= createServices(loadConfig(), { gateway: false, notifyPeer });
  return g[GLOBAL_KEY];
}
