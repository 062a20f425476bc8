import { createServer } from 'node:http';
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

  const app = next({ dev: process.argv.includes('--dev'), dir: webDir, hostname: config.HOST, port: config.PORT });
  await app.prepare();
  const handleNext = app.getRequestHandler();

  const server = createServer((req, res) => {
    if (gatewayRoute(req.url) !== 'not_gateway') return gateway.handle(req, res);
    void handleNext(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(config.PORT, config.HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    services.log.info({ url: `http://${config.HOST}:${port}`, upstream: config.UPSTREAM_API_KEY ? 'configured' : 'not configured' }, 'glm-gateway listening');
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    services.log.info({ signal }, 'shutting down');
    server.close();
    server.closeIdleConnections();
    void services.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
