// Bundles the process entries (server.ts, next-worker.ts) with our own modules into plain ES modules,
// web/server.mjs and web/next-worker.mjs, that Node runs without tsx: tsx's loader is a second V8 isolate
// (about 35 MB of RSS) and wraps every function it compiles. Packages stay external, loaded from
// node_modules as usual; only the workspace's own TypeScript (web/src, shared/) is bundled.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(webDir, 'package.json'), 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) => !pkg.dependencies?.[name]?.startsWith('workspace:'));

await build({
  entryPoints: ['server.ts', 'next-worker.ts'].map((entry) => join(webDir, entry)),
  outdir: webDir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  sourcemap: 'linked',
  logLevel: 'warning',
});
