import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './ports';

export interface TestDatabase {
  /** A connection string without a database name; each suite appends its own. */
  uri: string;
  kind: 'external' | 'mongod' | 'ferretdb';
  stop(): Promise<void>;
  /** Outage control for a private server (absent for an external one): same port and data throughout. */
  outage?: {
    /** Kills the server (SIGKILL, as a crash would); it stays down until `start()`. */
    kill(): Promise<void>;
    start(): Promise<void>;
    restart(): Promise<void>;
  };
}

const repoRoot = resolve(import.meta.dirname, '../..');

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`database did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** MONGODB_URI if set; else mongod on PATH; else FerretDB (built into the user cache if missing). */
export async function startTestDatabase(): Promise<TestDatabase> {
  if (process.env.MONGODB_URI) {
    return { uri: process.env.MONGODB_URI.replace(/\/[^/?]*(\?|$)/, '/$1'), kind: 'external', stop: async () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'glmgw-db-'));
  const port = await freePort();
  let kind: 'mongod' | 'ferretdb';
  let argv: string[];
  if (onPath('mongod')) {
    kind = 'mongod';
    argv = ['mongod', '--dbpath', dir, '--port', String(port), '--bind_ip', '127.0.0.1', '--quiet'];
  } else {
    kind = 'ferretdb';
    const found = spawnSync('bash', [join(repoRoot, 'web/scripts/ferretdb.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (found.status !== 0) throw new Error('no test database available (see the message above)');
    argv = [found.stdout.trim(), '--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=error'];
  }
  let child: ChildProcess | undefined;
  // A killed child has a signalCode and no exitCode: both mean it is gone.
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const launch = async () => {
    if (running()) return;
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port, 20_000);
  };
  await launch();
  const kill = () =>
    new Promise<void>((r) => {
      if (!child || !running()) return r();
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    kind,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    outage: {
      kill,
      start: launch,
      async restart() {
        await kill();
        await launch();
      },
    },
  };
}
