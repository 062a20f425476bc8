import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import next from 'next';
import { loadConfig } from './src/config';
import type { WorkerMessage } from './src/lib/next-worker';

/**
 * The website's process: Next alone, on a private Unix socket, behind web/server.ts. It builds its own
 * services on first use (getServices) and shares the database, not memory, with the gateway.
 */
async function main(): Promise<void> {
  const socketPath = process.argv[2];
  if (!socketPath || !process.send) throw new Error('next-worker is started by web/server.ts');
  // The parent died without stopping this process (killed outright, perhaps while this one was starting):
  // nobody else will stop it or remove the private socket directory.
  process.on('disconnect', () => {
    rmSync(dirname(socketPath), { recursive: true, force: true });
    process.exit(0);
  });
  const webDir = dirname(fileURLToPath(import.meta.url));
  const config = loadConfig(process.env, webDir);
  // No `hostname`: with one set, Clerk's same-URL rewrite looks external to Next (localhost vs the bound
  // address) and Next tries to proxy the request to itself.
  const app = next({ dev: process.argv.includes('--dev'), dir: webDir, port: config.PORT });
  await app.prepare();
  const handle = app.getRequestHandler();
  const server = createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;
  // Next's uncaughtException handler would keep a worker that cannot listen alive and never ready; exiting
  // lets the parent start another.
  server.once('error', (err) => {
    process.stderr.write(`website process cannot listen: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(socketPath, () => process.send?.('ready' satisfies WorkerMessage));
  // The parent decides when the website stops: after its own connections have drained.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  process.on('SIGINT', () => undefined);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
