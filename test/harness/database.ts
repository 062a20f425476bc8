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
  /** Kill and restart the server on the same port and data (for outage tests). */
  restart?(): Promise<void>;
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
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port, 20_000);
  };
  await launch();
  const kill = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null) return r();
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
    async restart() {
      await kill();
      await launch();
    },
  };
}
