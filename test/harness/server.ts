import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from './ports';

export interface RunningServer {
  url: string;
  pid: number;
  /** Everything the process printed, for asserting on log lines. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const webDir = resolve(import.meta.dirname, '../../web');

/** Starts the real server entry (gateway + Next) as its own process, as production runs it: built by `pnpm build`. */
export async function startServer(env: Record<string, string>, host = '127.0.0.1', port?: number, nodeArgs: string[] = []): Promise<RunningServer> {
  port ??= await freePort(host);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, 'server.mjs'], {
    cwd: webDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      CLERK_TELEMETRY_DISABLED: '1',
      HOST: host,
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const url = `http://${host}:${port}`;
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 30_000;
  // Ready when it answers HTTP at all (health may say "degraded"; that is for the test to judge).
  for (;;) {
    if (code !== undefined) throw new Error(`server exited with ${code} before listening:\n${out}`);
    const answered = await fetch(`${url}/api/health`).then(() => true, () => false);
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    pid: child.pid ?? 0,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A process's own children, read from /proc (Linux), each with its command line. */
export function childrenOf(pid: number): { pid: number; args: string[] }[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return ''; // the process or thread has just gone
    }
  };
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const pids = tasks.flatMap((t) => read(`/proc/${pid}/task/${t}/children`).split(' ').filter(Boolean).map(Number));
  return pids.map((p) => ({ pid: p, args: read(`/proc/${p}/cmdline`).split('\0') }));
}

/** The server's website process (web/next-worker.mjs) and the Unix socket it listens on, while it has one. */
export function websiteProcess(server: RunningServer): { pid: number; socketPath: string } | undefined {
  for (const child of childrenOf(server.pid)) {
    const entry = child.args.findIndex((a) => a.endsWith('next-worker.mjs'));
    if (entry >= 0) return { pid: child.pid, socketPath: child.args[entry + 1] ?? '' };
  }
  return undefined;
}

/** Whether a process is still running (a zombie waiting to be reaped counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
