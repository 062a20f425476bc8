// Bundles the extension host code (Node, CommonJS, `vscode` provided by the editor) and the chat webview
// (browser IIFE plus its CSS). `--production` minifies and drops source maps.
import { build } from 'esbuild';

const production = process.argv.includes('--production');
const common = { bundle: true, minify: production, sourcemap: !production, logLevel: 'warning', legalComments: 'none' };

if (process.argv.includes('--electron-tests')) {
  await build({ ...common, entryPoints: ['test-electron/suite/index.ts'], outfile: 'dist/test-electron/suite/index.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'mocha'] });
}

await Promise.all([
  build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] }),
  build({ ...common, entryPoints: { main: 'src/webview/main.ts' }, outdir: 'dist/webview', platform: 'browser', format: 'iife', target: 'es2022' }),
  build({ ...common, entryPoints: { main: 'src/webview/styles.css' }, outdir: 'dist/webview' }),
]);
