import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './src/config';
import { createLogger } from './src/lib/logger';
import { refuseConnect, refuseUnparsed, startNextWorker } from './src/lib/next-worker';
import { gatewayRoute } from './src/modules/gateway';
import { createServices } from './src/services';

/** After the connections close, how long shutdown waits for their requests to be metered. */
const METERING_WAIT_MS = 5_000;
/** How long shutdown keeps retrying to write buffered usage while the database is away. */
const USAGE_FLUSH_WAIT_MS = 5_000;

/** How long a connection whose request was answered before its body arrived stays open for the client to read the answer. */
const UNREAD_BODY_CLOSE_MS = 2_000;

/** The largest request body any website route accepts (webhook deliveries); larger ones never reach Next. */
const WEBSITE_MAX_BODY_BYTES = 1024 * 1024;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The process entry: `/v1/*` goes to the framework-free gateway, everything else to Next. */
async function main(): Promise<void> {
  const webDir = dirname(fileURLToPath(import.meta.url));
  const config = loadConfig(process.env, webDir);
  const dev = process.argv.includes('--dev');
  // One logger for the process, so its lines never interleave with a second writer's.
  const log = createLogger(config.LOG_LEVEL);
  // The website runs in its own process (see next-worker.ts), started while this one connects.
  const starting = createServices(config, { gateway: true, log });
  const [services, website] = await Promise.all([
    starting,
    startNextWorker({
      // The bundled server (server.mjs) starts the bundled worker; under tsx (development) the .ts one.
      entry: join(webDir, `next-worker${extname(fileURLToPath(import.meta.url))}`),
      dev,
      maxBodyBytes: WEBSITE_MAX_BODY_BYTES,
      log,
      onInvalidate: (e) => void starting.then((s) => s.invalidation.receive(e)),
    }),
  ]);
  const gateway = services.gateway;
  if (!gateway) throw new Error('gateway services missing');

  // Requests running on each open socket: at shutdown, sockets with none are closed at once (including
  // ones a client opened ahead of time and never used), the others when their last request ends.
  const sockets = new Map<Socket, number>();
  // Gateway requests still running: a request is metered after its response closes, so shutdown waits for
  // these, not just for the sockets, before the last usage flush.
  const inflight = new Set<Promise<void>>();
  let stopping = false;
  const server = createServer((req, res) => {
    // Not req.socket later: a body reader that stops early detaches the socket from its request.
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (sockets.get(socket) ?? 1) - 1;
      sockets.set(socket, left);
      if (stopping && left === 0) socket.destroy();
      // Answered before its body was read (a 413, a refusal): the client stops sending once it has the
      // answer, and the socket then closes; one that goes on sending is cut off.
      if (!req.complete) setTimeout(() => req.complete || socket.destroy(), UNREAD_BODY_CLOSE_MS).unref();
    });
    if (gatewayRoute(req.url) !== 'not_gateway') {
      const handled = gateway.handle(req, res);
      inflight.add(handled);
      void handled.finally(() => inflight.delete(handled));
      return;
    }
    void website.handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  // Development only (Next's reload socket): with an 'upgrade' listener Node hands it every request that
  // offers an upgrade, so `curl --http2` (an h2c offer) to /v1 hung; without one they are plain requests.
  if (dev) server.on('upgrade', website.upgrade);
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseConnect(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => refuseUnparsed(err, socket, (sockets.get(socket) ?? 0) > 0));
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
    const finished = await Promise.race([drained.then(() => true), delay(config.SHUTDOWN_GRACE_MS).then(() => false)]);
    if (!finished) services.log.warn({ openConnections: sockets.size }, 'shutdown grace ran out; closing connections');
    server.closeAllConnections();
    // Cut streams end as aborted and are billed for what they delivered; their records must reach the flush.
    const metered = await Promise.race([Promise.all(inflight).then(() => true), delay(METERING_WAIT_MS).then(() => false)]);
    if (!metered) services.log.error({ requests: inflight.size }, 'requests still running at exit; their usage is not recorded');
    // Written before the database connection closes, retried for a while if the database is away.
    await gateway.meter.close(USAGE_FLUSH_WAIT_MS).catch(() => undefined);
    await website.close(config.SHUTDOWN_GRACE_MS);
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
