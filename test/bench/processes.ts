// Child processes of the benchmark, so load generation, upstream and gateway never share a CPU queue:
//   tsx processes.ts upstream            → the fake upstream; prints {"url","baseUrl","apiKey"}
//   tsx processes.ts passthrough <base>  → bare Node http + undici Pool relay; prints {"url"}
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { startFakeUpstream } from '../fake-upstream/server';

const [role, arg] = process.argv.slice(2);
if (role === 'upstream') {
  const fake = await startFakeUpstream({ recordRequests: false });
  process.stdout.write(`${JSON.stringify({ url: fake.url, baseUrl: fake.baseUrl, apiKey: fake.apiKey })}\n`);
} else if (role === 'passthrough' && arg) {
  // The floor a gateway is measured against: no auth, no parsing, no metering; bytes in, bytes out.
  const base = new URL(arg);
  const pool = new Pool(base.origin, { connections: Number(process.env.UPSTREAM_CONNECTIONS ?? 256), pipelining: 1 });
  const server = createServer((req, res) => {
    pool
      .request({ path: `${base.pathname}/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json', authorization: String(process.env.UPSTREAM_AUTH) }, body: req })
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, { 'content-type': String(headers['content-type'] ?? 'application/json') });
        body.pipe(res);
      })
      .catch(() => res.writeHead(502).end());
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` })}\n`);
  });
}
