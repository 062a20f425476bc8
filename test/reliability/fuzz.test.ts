import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { domain, provision, type Account } from '../harness/accounts';
import { chat } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';

const repoRoot = resolve(import.meta.dirname, '../..');
const openApiPath = join(repoRoot, 'shared/openapi.yaml');
const installScript = join(repoRoot, 'test/tools/schemathesis.sh');
/** schemathesis's console report and event log of the last run, kept for humans (git-ignored). */
const artifactsDir = join(repoRoot, 'test/artifacts/schemathesis');

/** Fixed, so a failure found here is found again on the next run; change it to explore other inputs. */
const SEED = 20261124;
/** Generated cases per operation and phase: enough to reach every field's edges, small enough for 2 cores. */
const MAX_EXAMPLES = 50;

const CHECKS = ['not_a_server_error', 'negative_data_rejection', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance', 'response_headers_conformance'];

/**
 * The admin operations run last, on their own: with ids the fuzzer collects from the admin list it suspends and
 * limits real users, which would turn the other operations' answers into 403s halfway through their run.
 */
interface FuzzPart {
  name: string;
  filter: string[];
}
const PARTS: FuzzPart[] = [
  { name: 'public', filter: ['--exclude-path-regex', '^/api/admin/'] },
  { name: 'admin', filter: ['--include-path-regex', '^/api/admin/'] },
];

interface FuzzRun {
  code: number | null;
  output: string;
  /** `METHOD /path` of every operation schemathesis sent requests to. */
  tested: Set<string>;
}

/** Every operation the document describes, as `METHOD /path`. */
async function documentedOperations(): Promise<string[]> {
  const text = await readFile(openApiPath, 'utf8');
  const ops: string[] = [];
  let path: string | null = null;
  // The document's own layout (two-space indents) is enough here; it keeps a YAML parser out of the test deps.
  for (const line of text.split('\n')) {
    if (line === 'components:') break;
    const p = /^ {2}(\/\S+):$/.exec(line);
    if (p) path = p[1]!;
    const m = /^ {4}(get|post|put|patch|delete):$/.exec(line);
    if (m && path) ops.push(`${m[1]!.toUpperCase()} ${path}`);
  }
  return ops;
}

function installSchemathesis(): Promise<string> {
  return promisify(execFile)('bash', [installScript], { maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
    (err: unknown) => {
      throw new Error(`test/tools/schemathesis.sh failed:\n${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
    },
  );
}

/**
 * Runs schemathesis against a running server with every check that holds for this API, and returns its
 * report. Credentials reach it through the environment, never the command line.
 */
async function fuzz(st: string, baseUrl: string, credentials: Record<string, string>, part: FuzzPart, deadlineMs: number): Promise<FuzzRun> {
  const dir = await mkdtemp(join(tmpdir(), 'fuzz-'));
  await mkdir(artifactsDir, { recursive: true });
  try {
    const config = join(dir, 'schemathesis.toml');
    // Per-operation headers take precedence over the scheme-wide bearer: admin operations run as an admin,
    // and "revoke my own key" gets a key of its own, so it cannot sign the other operations out.
    await writeFile(
      config,
      [
        '[auth.openapi.gatewayKey]',
        'bearer = "${FUZZ_GATEWAY_KEY}"',
        '[auth.openapi.clerkSession]',
        'bearer = "${FUZZ_USER_SESSION}"',
        '[[operations]]',
        'include-path-regex = "^/api/admin/"',
        'headers = { Authorization = "Bearer ${FUZZ_ADMIN_SESSION}" }',
        '[[operations]]',
        'include-operation-id = "revokeOwnKey"',
        'headers = { Authorization = "Bearer ${FUZZ_SPARE_KEY}" }',
        // Methods no operation has, sent to every path. TRACE included: web/server.ts answers it with 405 on
        // the website (Next.js alone answered it with a 500, since fetch refuses to build a TRACE Request).
        '[phases.coverage]',
        'unexpected-methods = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"]',
        '',
      ].join('\n'),
    );
    const ndjson = join(artifactsDir, `${part.name}.ndjson`);
    await rm(ndjson, { force: true });
    const args = [
      '--config-file', config,
      'run', openApiPath,
      '--url', baseUrl,
      ...part.filter,
      '--checks', CHECKS.join(','),
      '--phases', 'examples,coverage,fuzzing,stateful',
      '--max-examples', String(MAX_EXAMPLES),
      '--seed', String(SEED),
      '--workers', '2',
      '--request-timeout', '10',
      '--generation-database', 'none',
      '--report', 'ndjson',
      '--report-ndjson-path', ndjson,
      '--no-color',
    ];
    const child = spawn(st, args, {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...credentials },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(killer);
    await writeFile(join(artifactsDir, `${part.name}.txt`), output);
    return { code, output, tested: await testedOperations(ndjson) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The operations a run actually exercised, from its event log (a run that skipped one must not pass). */
async function testedOperations(ndjson: string): Promise<Set<string>> {
  const tested = new Set<string>();
  const text = await readFile(ndjson, 'utf8').catch(() => '');
  for (const match of text.matchAll(/"label":\s*"((?:GET|POST|PUT|PATCH|DELETE) [^"]+)"/g)) tested.add(match[1]!);
  return tested;
}

describe('fuzzing every operation of shared/openapi.yaml with schemathesis', function () {
  this.timeout(240_000);
  let st: string;
  let stack: Stack;
  let clerk: FakeClerk;
  let account: Account;
  let spare: Account;

  before(async function () {
    this.timeout(180_000);
    st = await installSchemathesis();
    clerk = await createFakeClerk();
    stack = await startStack({ env: { ...clerk.env, ADMIN_USER_IDS: 'user_fuzz_admin' } });
    const services = await domain(stack);
    try {
      // Generous limits: the point is what bad input does, not the rate limiter (it has its own tests).
      account = await provision(services, { rpm: 100_000, dailyTokens: 1_000_000_000 });
      spare = await provision(services, { rpm: 100_000, dailyTokens: 1_000_000_000 });
    } finally {
      await services.close();
    }
  });
  after(async () => stack?.close());

  it('finds no 5xx, no hang and no answer that differs from the document, on any operation', async function () {
    const url = stack.servers[0]!.url;
    const before = await chat(url, account.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'before fuzzing' }] });
    assert.equal(before.status, 200, 'the stack serves a normal request first');
    await before.text();

    const credentials = {
      FUZZ_GATEWAY_KEY: account.secret,
      FUZZ_SPARE_KEY: spare.secret,
      FUZZ_USER_SESSION: await clerk.sessionToken('user_fuzz_person', { azp: url, claims: { email: 'fuzz@example.test' } }),
      FUZZ_ADMIN_SESSION: await clerk.sessionToken('user_fuzz_admin', { azp: url }),
    };
    const tested = new Set<string>();
    let report = '';
    for (const part of PARTS) {
      const run = await fuzz(st, url, credentials, part, 100_000);
      report = run.output.slice(-12_000);
      assert.equal(run.code, 0, `schemathesis found problems in the ${part.name} operations (seed ${SEED}):\n${report}`);
      for (const op of run.tested) tested.add(op);
    }

    const documented = await documentedOperations();
    assert.ok(documented.length >= 20, `the document lists every public operation (found ${documented.length})`);
    const untested = documented.filter((op) => !tested.has(op));
    assert.deepEqual(untested, [], `operations schemathesis did not exercise:\n${report}`);

    // A fresh account: the fuzzer's admin calls may have suspended any user it found in the admin list.
    const services = await domain(stack);
    const fresh = await provision(services).finally(() => services.close());
    const after = await chat(url, fresh.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'after fuzzing' }] });
    assert.equal(after.status, 200, 'the server still serves normal requests after the fuzzing');
    const log = stack.servers[0]!.output();
    assert.doesNotMatch(log, /gateway request failed|⨯ /, 'no request failed inside the server');
  });
});
