import { randomBytes } from 'node:crypto';
import mongoose, { type Connection } from 'mongoose';
import { startFakeUpstream, type FakeUpstream } from '../fake-upstream/server';
import { startTestDatabase, type TestDatabase } from './database';
import { freePort } from './ports';
import { startServer, type RunningServer } from './server';

let database: TestDatabase | undefined;

/** One database server for the whole run (started by the root hook), one database name per suite. */
export async function sharedDatabase(): Promise<TestDatabase> {
  database ??= await startTestDatabase();
  return database;
}

export async function stopSharedDatabase(): Promise<void> {
  await database?.stop();
  database = undefined;
}

export interface Stack {
  upstream: FakeUpstream;
  mongoUri: string;
  db: Connection;
  servers: RunningServer[];
  /** Starts one more server instance on the same database and upstream (on `host`, a loopback address). */
  addServer(env?: Record<string, string>, host?: string): Promise<RunningServer>;
  /** Runs the operator CLI against this stack's database. */
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  instances?: number;
  /** A database server of the suite's own (to stop and start), instead of the run's shared one. */
  database?: TestDatabase;
}

/** A fresh database, a fake upstream and N server instances sharing them: what each suite tests against. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dbServer = opts.database ?? (await sharedDatabase());
  const mongoUri = `${dbServer.uri}glmgw_${randomBytes(4).toString('hex')}`;
  const upstream = await startFakeUpstream();
  const db = await mongoose.createConnection(mongoUri, { serverSelectionTimeoutMS: 5_000 }).asPromise();
  const baseEnv = {
    MONGODB_URI: mongoUri,
    UPSTREAM_BASE_URL: upstream.baseUrl,
    UPSTREAM_API_KEY: upstream.apiKey,
    USAGE_FLUSH_MS: '50',
    INVALIDATION_POLL_MS: '200',
    ...opts.env,
  };
  const servers: RunningServer[] = [];
  const stack: Stack = {
    upstream,
    mongoUri,
    db,
    servers,
    async addServer(env = {}, host = '127.0.0.1') {
      const port = await freePort(host);
      // The website's public URL is where browsers reach it: session tokens are bound to that origin.
      const s = await startServer({ ...baseEnv, PUBLIC_URL: `http://${host}:${port}`, ...env }, host, port);
      servers.push(s);
      return s;
    },
    async close() {
      await Promise.all(servers.map((s) => s.stop()));
      await upstream.close();
      await db.dropDatabase().catch(() => undefined);
      await db.close();
    },
  };
  for (let i = 0; i < (opts.instances ?? 1); i++) await stack.addServer();
  return stack;
}
