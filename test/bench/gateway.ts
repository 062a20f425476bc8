// The gateway benchmark: `npm run bench`. Starts the database, the fake upstream, a bare undici pass-through
// and the gateway (auth + limits + metering on), each in its own process, drives load from another process,
// and writes test/bench/out/result.json and result.md. Every gateway figure sits next to the same figure for
// the upstream directly and for the bare pass-through in the same run, because absolute numbers drift on
// these machines.
//   BENCH_SECONDS=5             length of each closed-loop run
//   BENCH_SCENARIOS=json,stream,keys   which scenarios to run (all by default)
//   BENCH_CPU_PROF=1            the gateway writes a V8 CPU profile to test/bench/out/prof/ when it stops
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '@glm-gateway/web/src/config';
import { hashKey, keyIdFor } from '@glm-gateway/web/src/modules/keys/index';
import { createServices } from '@glm-gateway/web/src/services';
import { startTestDatabase } from '../harness/database';
import { childrenOf, startServer } from '../harness/server';
import type { LoadOptions, LoadResult } from './load';

const here = import.meta.dirname;
const out = resolve(here, 'out');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'json,stream,keys').split(','));
// The pass-through gets as many upstream connections as the gateway has by default (UPSTREAM_CONNECTIONS).
const UPSTREAM_CONNECTIONS = 4096;
const children: ChildProcess[] = [];

function child(args: string[], env: Record<string, string> = {}): Promise<{ url?: string; baseUrl?: string; apiKey?: string; pid: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(here, 'processes.ts'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((ok) => proc.stdout!.once('data', (d: Buffer) => ok({ ...(JSON.parse(d.toString()) as Record<string, string>), pid: proc.pid ?? 0 })));
}

function load(options: LoadOptions): Promise<LoadResult> {
  return new Promise((ok, fail) => {
    // Options go through stdin: 10,000 keys do not fit in an argument list.
    const proc = spawn(process.execPath, ['--import', 'tsx', resolve(here, 'load.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(proc);
    proc.stdin.end(JSON.stringify(options));
    let text = '';
    proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
    proc.on('exit', (code) => (code === 0 ? ok(JSON.parse(text) as LoadResult) : fail(new Error(`load generator exited ${code}`))));
  });
}

/** CPU time a process has used so far (user + system), in ms: the work behind a figure, which drifts less than the figure. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) || 0) + (Number(fields[12]) || 0)) * 10; // clock ticks of 10 ms
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const db = await startTestDatabase();
const mongoUri = `${db.uri}bench_${Date.now()}`;
// A database server this run started (none for MONGODB_URI): its CPU time is what metering costs it.
const dbPid = childrenOf(process.pid).find((c) => /ferretdb|mongod/.test(c.args[0] ?? ''))?.pid;
const upstream = await child(['upstream']);
const passthrough = await child(['passthrough', upstream.baseUrl!], { UPSTREAM_AUTH: `Bearer ${upstream.apiKey}`, UPSTREAM_CONNECTIONS: String(UPSTREAM_CONNECTIONS) });
const services = await createServices(loadConfig({ MONGODB_URI: mongoUri, LOG_LEVEL: 'silent' }), { gateway: false });

let made = 0;
/** Users with one key each, written in bulk (the CLI would take minutes for 10,000); limits high enough not to bite. */
async function keys(count: number): Promise<string[]> {
  const secrets: string[] = [];
  for (let i = made; i < made + count; i += 1000) {
    const ns = Array.from({ length: Math.min(1000, made + count - i) }, (_, j) => i + j);
    const batch = ns.map((n) => `glmgw_bench${String(n).padStart(6, '0')}${'x'.repeat(21)}`);
    secrets.push(...batch);
    const now = new Date();
    await services.db.collection('users').insertMany(ns.map((n) => ({ _id: `usr_bench${n}`, email: `b${n}@bench.test`, status: 'active', limits: { rpm: 1_000_000, dailyTokens: 1_000_000_000 }, createdAt: now, updatedAt: now })) as never[]);
    await services.db.collection('api_keys').insertMany(batch.map((secret, j) => ({ _id: keyIdFor(hashKey(secret)), userId: `usr_bench${ns[j]}`, name: 'bench', hash: hashKey(secret), start: secret.slice(0, 12), revokedAt: null, expiresAt: null, createdAt: now, updatedAt: now })) as never[]);
  }
  made += count;
  return secrets;
}

// Written before the gateway starts: FerretDB 1.x stalls on bulk inserts racing the gateway's own writes.
const oneKey = await keys(1);
const manyKeys = SCENARIOS.has('keys') ? await keys(10_000) : [];

await mkdir(resolve(out, 'prof'), { recursive: true });
const gateway = await startServer(
  { MONGODB_URI: mongoUri, UPSTREAM_BASE_URL: upstream.baseUrl!, UPSTREAM_API_KEY: upstream.apiKey!, LOG_LEVEL: 'warn', MODELS: 'glm-4.6' },
  '127.0.0.1',
  undefined,
  process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(out, 'prof')}`] : [],
);

// Interrupted (Ctrl-C, a timeout), the run takes its processes with it rather than leave a gateway serving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    children.forEach((c) => c.kill());
    void Promise.all([gateway.stop('SIGKILL'), db.stop()]).finally(() => process.exit(130));
  });
}

/** Tokens the gateway has booked so far, once its batched writes have landed. */
const sum = async (collection: string) =>
  (await services.db.collection(collection).find({}, { projection: { totalTokens: 1 } }).toArray()).reduce((n, r) => n + Number(r.totalTokens), 0);

/**
 * Tokens booked, read once the meter has caught up with `told` more tokens: the hourly system rollups (a
 * handful of rows, written after each batch's events) are polled until they have grown by that much (or two
 * minutes pass), then events and rollups are read after a pause, so a batch counted twice shows too. A fixed
 * pause read a meter busy with 500 new users' rollups as lost records, and polling the events themselves
 * (hundreds of thousands of rows) took FerretDB's CPU from the meter it waited for.
 */
async function metered(told: number, rollupBefore: number): Promise<{ events: number; rollups: number; caughtUpAt: number }> {
  const deadline = Date.now() + 120_000;
  while ((await sum('usage_system')) < rollupBefore + told && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const caughtUpAt = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  return { events: await sum('usage_events'), rollups: await sum('usage_system'), caughtUpAt };
}

const targets = {
  direct: { url: upstream.url!, path: '/api/paas/v4/chat/completions', keys: [upstream.apiKey!] },
  passthrough: { url: passthrough.url!, path: '/chat/completions', keys: [upstream.apiKey!] },
  gateway: { url: gateway.url, path: '/v1/chat/completions', keys: oneKey },
};
/** The process doing the relaying for each target, whose CPU time a run is charged. */
const relayPid: Record<string, number | undefined> = { passthrough: passthrough.pid, gateway: gateway.pid };

type Row = LoadResult & { rssPeakMb?: number; relayCpuMs?: number; dbCpuMs?: number; meteredAfterSec?: number };

/** One load run against a target, with the CPU time its relaying process and the database spent on it. */
async function measured(target: string, options: LoadOptions): Promise<Row> {
  const pid = relayPid[target];
  const [relayBefore, dbBefore] = [pid ? await cpuMs(pid) : 0, dbPid ? await cpuMs(dbPid) : 0];
  const r = await load(options);
  return {
    ...r,
    ...(pid ? { relayCpuMs: (await cpuMs(pid)) - relayBefore } : {}),
    ...(dbPid ? { dbCpuMs: (await cpuMs(dbPid)) - dbBefore } : {}),
  };
}
const results: Record<string, Row> = {};
/** Tokens booked minus tokens told to clients, in the raw events and in the rollups: both must be 0. */
const drift: Record<string, { events: number; rollups: number }> = {};

/**
 * Runs one scenario on the gateway (after its warm-up, if any) and checks its books: tokens booked must equal
 * tokens told to clients, warm-up included. Each run waits for its own usage, so the next starts from rest.
 */
async function onGateway(name: string, options: LoadOptions, opts: { warmUp?: boolean; sampleRss?: boolean } = {}): Promise<void> {
  // A flush interval or two for any request before this run (the idle-RSS sample) to be booked.
  await new Promise((r) => setTimeout(r, 1500));
  const [before, rollupBefore] = [await sum('usage_events'), await sum('usage_system')];
  const warm = opts.warmUp ? (await load({ ...options, seconds: 1 })).tokens : 0;
  let peak = 0;
  const sampler = opts.sampleRss ? setInterval(() => void rssMb(gateway.pid).then((m) => (peak = Math.max(peak, m))), 50) : undefined;
  const r = await measured('gateway', options);
  clearInterval(sampler);
  const ended = Date.now();
  const told = warm + r.tokens;
  const booked = await metered(told, rollupBefore);
  drift[name] = { events: booked.events - before - told, rollups: booked.rollups - rollupBefore - told };
  const meteredAfterSec = (booked.caughtUpAt - ended) / 1000;
  results[name] = { ...r, meteredAfterSec, ...(opts.sampleRss ? { rssPeakMb: peak } : {}) };
  process.stderr.write(`${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, errors ${r.errors}, drift ${drift[name].events} / ${drift[name].rollups}, usage written within ${meteredAfterSec.toFixed(1)} s of the end\n`);
}

if (SCENARIOS.has('json')) {
  for (const connections of [1, 50, 200]) {
    for (const [name, t] of Object.entries(targets)) {
      const options: LoadOptions = { ...t, connections, seconds: SECONDS, stream: false, chunks: 20 };
      // A second's warm-up first: connections, JIT, and on the gateway the key's cache entry and leases.
      if (name === 'gateway') await onGateway(`json-c${connections}-gateway`, options, { warmUp: true });
      else results[`json-c${connections}-${name}`] = await (load({ ...options, seconds: 1 }).then(() => measured(name, options)));
    }
  }
}

if (SCENARIOS.has('stream')) {
  // 1,000 streams of 200 chunks, 50 ms apart (a model writing 20 tokens a second), opened over one second so
  // that all 1,000 are open together from then on; the gateway's RSS sampled while they run. Two seconds after
  // the last one opened (once the burst of 1,000 new requests is absorbed), 100 short probe streams, one at a
  // time, measure what a new request meets at a gateway carrying 1,000 streams. Faster chunks
  // would saturate this machine's two cores and measure queueing, not the gateway.
  results['idle-gateway'] = { ...(await load({ ...targets.gateway, connections: 1, seconds: 0.2, stream: false, chunks: 1 })), rssPeakMb: await rssMb(gateway.pid) };
  for (const [name, t] of Object.entries(targets)) {
    const options: LoadOptions = { ...t, connections: 1000, streams: 1000, rampMs: 1000, probes: 100, probeGapMs: 20, probeDelayMs: 2000, seconds: 0, stream: true, chunks: 200, delayMs: 50 };
    if (name === 'gateway') await onGateway('stream-1000-gateway', options, { sampleRss: true });
    else results[`stream-1000-${name}`] = await measured(name, options);
  }
}

if (SCENARIOS.has('keys')) {
  // 10,000 keys of 10,000 users, taken in turn, each first seen during the run: a request authenticates and
  // claims limit budget from the database unless its key came round before, so the cache is no help early on.
  await onGateway('json-c50-gateway-10k-keys', { ...targets.gateway, keys: manyKeys, connections: 50, seconds: SECONDS * 4, stream: false, chunks: 20 });
}

const r = (k: string): Row | undefined => results[k];
const n = (v: number | undefined, digits = 0) => (v === undefined ? '–' : v.toFixed(digits));
const cpuPer = (row: Row | undefined, units: number | undefined, of: 'relayCpuMs' | 'dbCpuMs' | 'cpuMs' = 'relayCpuMs') => {
  const ms = row?.[of];
  return ms !== undefined && units ? (ms * 1000) / units : undefined;
};
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? (a / b).toFixed(2) : '–');
const rows = ['| scenario | direct | bare pass-through | gateway | gateway ÷ pass-through |', '| --- | --- | --- | --- | --- |'];
for (const c of [1, 50, 200]) {
  const [d, p, g] = [r(`json-c${c}-direct`), r(`json-c${c}-passthrough`), r(`json-c${c}-gateway`)];
  if (!g) continue;
  rows.push(`| non-stream, ${c} conn: req/s | ${n(d?.rps)} | ${n(p?.rps)} | ${n(g.rps)} | ${ratio(g.rps, p?.rps)} |`);
  rows.push(`| non-stream, ${c} conn: p50 / p99 ms | ${n(d?.p50, 2)} / ${n(d?.p99, 2)} | ${n(p?.p50, 2)} / ${n(p?.p99, 2)} | ${n(g.p50, 2)} / ${n(g.p99, 2)} | |`);
  rows.push(`| non-stream, ${c} conn: added p50 vs direct, ms | | ${n(p && d && p.p50 - d.p50, 2)} | ${n(d && g.p50 - d.p50, 2)} | |`);
  rows.push(`| non-stream, ${c} conn: relay CPU per request, µs | | ${n(cpuPer(p, p?.requests), 0)} | ${n(cpuPer(g, g.requests), 0)} | ${ratio(cpuPer(g, g.requests), cpuPer(p, p?.requests))} |`);
  rows.push(`| non-stream, ${c} conn: database CPU per request (metering, limits), µs | | ${n(cpuPer(p, p?.requests, 'dbCpuMs'), 0)} | ${n(cpuPer(g, g.requests, 'dbCpuMs'), 0)} | |`);
  rows.push(`| non-stream, ${c} conn: load generator CPU per request, µs | ${n(cpuPer(d, d?.requests, 'cpuMs'), 0)} | ${n(cpuPer(p, p?.requests, 'cpuMs'), 0)} | ${n(cpuPer(g, g.requests, 'cpuMs'), 0)} | |`);
}
const [sd, sp, sg] = [r('stream-1000-direct'), r('stream-1000-passthrough'), r('stream-1000-gateway')];
if (sg) {
  rows.push(`| 1,000 streams × 200 chunks opened over 1 s: first token p50 / p99 ms | ${n(sd?.ttftP50, 1)} / ${n(sd?.ttftP99, 1)} | ${n(sp?.ttftP50, 1)} / ${n(sp?.ttftP99, 1)} | ${n(sg.ttftP50, 1)} / ${n(sg.ttftP99, 1)} | |`);
  rows.push(`| 1,000 streams: first-token overhead vs direct, p50 / p99 ms | | ${n(sp && sd && sp.ttftP50 - sd.ttftP50, 1)} / ${n(sp && sd && sp.ttftP99 - sd.ttftP99, 1)} | ${n(sd && sg.ttftP50 - sd.ttftP50, 1)} / ${n(sd && sg.ttftP99 - sd.ttftP99, 1)} | |`);
  rows.push(`| a new stream while 1,000 are open (100 probes, one at a time, from 2 s after the last opened): first token p50 / p99 ms | ${n(sd?.probeTtftP50, 1)} / ${n(sd?.probeTtftP99, 1)} | ${n(sp?.probeTtftP50, 1)} / ${n(sp?.probeTtftP99, 1)} | ${n(sg.probeTtftP50, 1)} / ${n(sg.probeTtftP99, 1)} | |`);
  rows.push(`| a new stream while 1,000 are open: first-token overhead vs direct, p50 / p99 ms | | ${n(sp && sd && sp.probeTtftP50 - sd.probeTtftP50, 1)} / ${n(sp && sd && sp.probeTtftP99 - sd.probeTtftP99, 1)} | ${n(sd && sg.probeTtftP50 - sd.probeTtftP50, 1)} / ${n(sd && sg.probeTtftP99 - sd.probeTtftP99, 1)} | |`);
  rows.push(`| 1,000 streams: chunks/s | ${n(sd?.chunksPerSec)} | ${n(sp?.chunksPerSec)} | ${n(sg.chunksPerSec)} | ${ratio(sg.chunksPerSec, sp?.chunksPerSec)} |`);
  rows.push(`| 1,000 streams: relay CPU per chunk, µs | | ${n(cpuPer(sp, sp && sp.chunksPerSec * sp.seconds))} | ${n(cpuPer(sg, sg.chunksPerSec * sg.seconds))} | ${ratio(cpuPer(sg, sg.chunksPerSec * sg.seconds), cpuPer(sp, sp && sp.chunksPerSec * sp.seconds))} |`);
  rows.push(`| gateway RSS, MB: idle / peak at 1,000 streams | | | ${n(r('idle-gateway')?.rssPeakMb)} / ${n(sg.rssPeakMb)} | |`);
}
const spread = r('json-c50-gateway-10k-keys');
if (spread) rows.push(`| 10,000 keys in turn, 50 conn: req/s, p50 / p99 ms (keys seen for the first time: ${Math.min(spread.requests, 10_000)}) | | ${n(r('json-c50-passthrough')?.rps)} | ${n(spread.rps)}, ${n(spread.p50, 2)} / ${n(spread.p99, 2)}; usage written within ${n(spread.meteredAfterSec, 1)} s of the end | ${ratio(spread.rps, r('json-c50-passthrough')?.rps)} |`);
rows.push(`| errors (all gateway runs) | | | ${Object.entries(results).filter(([k]) => k.includes('gateway')).reduce((sum, [, v]) => sum + v.errors, 0)} | |`);
rows.push(`| metering drift, tokens booked − told to clients (events / rollups) | | | ${Object.entries(drift).map(([k, v]) => `${k}: ${v.events} / ${v.rollups}`).join(', ')} | |`);

await writeFile(resolve(out, 'result.json'), JSON.stringify({ at: new Date().toISOString(), seconds: SECONDS, database: db.kind, results, drift }, null, 2));
await writeFile(resolve(out, 'result.md'), `${rows.join('\n')}\n`);
process.stdout.write(`${rows.join('\n')}\n`);

await services.close();
await gateway.stop();
children.forEach((c) => c.kill());
await db.stop();
process.exit(Object.values(drift).some((d) => d.events !== 0 || d.rollups !== 0) ? 1 : 0);
