// The load generator, run as its own process: reads JSON options on stdin, prints one JSON result.
// Closed loop: `connections` workers each send one request after another for `seconds`; or, with `streams`,
// that many streaming requests, each once.
import { text } from 'node:stream/consumers';
import { Pool } from 'undici';

export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  seconds: number;
  keys: string[];
  stream: boolean;
  chunks: number;
  streams?: number;
  /** With `streams`: start them evenly over this many ms rather than all in the same instant. */
  rampMs?: number;
  /**
   * With `streams`: once all are open, this many short streams one after another (`probeGapMs` apart), each
   * timed to its first token: what a new request meets at a gateway carrying that many streams.
   */
  probes?: number;
  probeGapMs?: number;
  /** How long after the last stream opened the probes start. */
  probeDelayMs?: number;
  delayMs?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  ttftP50: number;
  ttftP99: number;
  probeTtftP50: number;
  probeTtftP99: number;
  chunksPerSec: number;
  /** Tokens the answers told the clients they used: what the gateway's books must add up to. */
  tokens: number;
  seconds: number;
  /** CPU time this load generator used, ms: it shares the machine with what it measures. */
  cpuMs: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};

async function run(o: LoadOptions): Promise<LoadResult> {
  // One connection more than the streams, for the probes.
  const pool = new Pool(new URL(o.url).origin, { connections: (o.streams ?? o.connections) + (o.probes ? 1 : 0), pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const probeTtfts: number[] = [];
  let tokens = 0;
  let errors = 0;
  let chunks = 0;
  let sent = 0;

  async function one(probe = false): Promise<void> {
    const key = o.keys[sent++ % o.keys.length]!;
    const fake = probe ? { chunks: 2 } : { chunks: o.chunks, ...(o.delayMs ? { delayMs: o.delayMs } : {}) };
    const body = JSON.stringify({ model: 'glm-4.6', stream: o.stream, messages: [{ role: 'user', content: 'benchmark prompt' }], fake });
    const started = performance.now();
    const res = await pool.request({ path: o.path, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
    if (res.statusCode !== 200) {
      errors++;
      await res.body.dump();
      return;
    }
    // Light on purpose: this process shares the machine's cores with what it measures. Only the end of an
    // answer (where its usage is) is kept, and events are counted by their separators as they pass.
    let first = true;
    let events = 0;
    let tail = '';
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (chunk: Buffer) => {
        if (first) {
          (probe ? probeTtfts : ttfts).push(performance.now() - started);
          first = false;
        }
        const text = chunk.toString('latin1');
        events += ((tail.slice(-1) + text).match(/\n\n/g) ?? []).length;
        tail = (tail + text).slice(-1000);
      });
      res.body.once('end', resolve);
      res.body.once('error', reject);
    });
    latencies.push(performance.now() - started);
    const usage = [...tail.matchAll(/"total_tokens":(\d+)/g)].at(-1);
    tokens += usage ? Number(usage[1]) : 0;
    chunks += o.stream ? events : 1;
  }

  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  if (o.streams) {
    const gap = (o.rampMs ?? 0) / o.streams;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const probing = async () => {
      await sleep((o.rampMs ?? 0) + (o.probeDelayMs ?? 0));
      for (let i = 0; i < (o.probes ?? 0); i++) {
        await one(true).catch(() => void errors++);
        await sleep(o.probeGapMs ?? 0);
      }
    };
    await Promise.all([...Array.from({ length: o.streams }, (_, i) => sleep(i * gap).then(() => one()).catch(() => void errors++)), probing()]);
  } else {
    const deadline = started + o.seconds * 1000;
    await Promise.all(
      Array.from({ length: o.connections }, async () => {
        while (performance.now() < deadline) await one().catch(() => void errors++);
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { requests: latencies.length, errors, rps: latencies.length / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), ttftP50: pct(ttfts, 50), ttftP99: pct(ttfts, 99), probeTtftP50: pct(probeTtfts, 50), probeTtftP99: pct(probeTtfts, 99), chunksPerSec: chunks / seconds, tokens, seconds, cpuMs: ((u) => (u.user + u.system) / 1000)(process.cpuUsage(cpuAtStart)) };
}

process.stdout.write(`${JSON.stringify(await run(JSON.parse(await text(process.stdin)) as LoadOptions))}\n`);
