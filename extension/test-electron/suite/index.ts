import Mocha from 'mocha';
import { extensionSuite } from './extension.test';

/** Entry VS Code calls inside the editor process. */
export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 20_000, color: true });
  mocha.suite.emit('pre-require', globalThis, 'extension', mocha);
  extensionSuite();
  return new Promise((resolvePromise, reject) => mocha.run((failures) => (failures ? reject(new Error(`${failures} tests failed`)) : resolvePromise())));
}
