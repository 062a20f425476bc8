// Runs the suite in a real desktop VS Code that @vscode/test-electron downloads. These machines cannot
// download VS Code, so CI runs the code-server end-to-end test instead; run this where downloads work:
//   pnpm --filter extension test:electron
import { resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';

const root = resolve(import.meta.dirname, '..');
await runTests({
  version: '1.100.3',
  extensionDevelopmentPath: root,
  extensionTestsPath: resolve(root, 'dist/test-electron/suite/index.js'),
  launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
});
