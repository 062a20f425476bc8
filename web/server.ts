import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import next from 'next';
import { ConfigError, loadConfig } from './src/config';
import { gatewayRoute } from './src/modules/gateway';
import { createServices, setServices } from './src/services';

/** The process entry: `/v1/*` goes to the framework-free gateway, everything else to Next. */
async function main(): Promise<void> {
  const webDir = dirname(fileURLToPath(import.meta.url));
  const config = loadConfig(process.env, webDir);
  const pending = createServices(config, { gateway: true });
  setServices(pending);
  const services = await pending;
  const gateway = services.gateway;
  if (!gateway) throw new Error('gateway services missing');

  // No `hostname`: with one set, Clerk's same-URL rewrite looks external to Next (localhost vs the bound
  // address) and Next tries to proxy the request to itself.
  const app = next({ dev: process.argv.includes('--dev'), dir: webDir, port: config.PORT });
  await app.prepare();
  const handleNext = app.getRequestHandler();

  // Requests running on each open socket: at shutdown, sockets with none are closed at once (including
  // ones a client opened ahead of time and never used), the others when their last request ends.
  const sockets = new Map<Socket, number>();
  let stopping = false;
  const server = createServer((req, res) => {
    sockets.set(req.socket, (sockets.get(req.socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (sockets.get(req.socket) ?? 1) - 1;
      sockets.set(req.socket, left);
      if (stopping && left === 0) req.socket.destroy();
    });
    if (gatewayRoute(req.url) !== 'not_gateway') return gateway.handle(req, res);
    void handleNext(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(config.PORT, config.HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    services.log.info({ url: `http://${config.HOST}:${port}`, upstream: config.UPSTREAM_API_KEY ? 'configured' : 'not configured' }, 'glm-gateway listening');
  });

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    services.log.info({ signal, openConnections: sockets.size }, 'shutting down: finishing requests in flight');
    // Stop accepting, let running streams finish (bounded), then flush usage: nothing metered is lost.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [socket, active] of sockets) if (active === 0) socket.destroy();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.SHUTDOWN_GRACE_MS).unref());
    const finished = await Promise.race([drained.then(() => true), grace.then(() => false)]);
    if (!finished) services.log.warn({ openConnections: sockets.size }, 'shutdown grace ran out; closing connections');
    server.closeAllConnections();
    await services.close();
    services.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
