import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';

const chromiumScript = resolve(import.meta.dirname, '../tools/chromium.sh');
const artifactsDir = resolve(import.meta.dirname, '../artifacts');

// Cached so the apt check (and a possible install) runs once per test process, not per suite.
let executable: Promise<string> | undefined;

function chromiumPath(): Promise<string> {
  executable ??= promisify(execFile)('bash', [chromiumScript], { maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
  );
  return executable;
}

/** Headless Debian Chromium; the flags keep it offline and stable in containers (root, small /dev/shm, no GPU). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: await chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Saves a full-page PNG under test/artifacts/ (git-ignored) for humans to inspect after a run. */
export async function screenshot(page: Page, name: string): Promise<string> {
  // Names become file names; keeping them kebab-case avoids path tricks and collisions across suites.
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name)) throw new Error(`screenshot name must be kebab-case: ${name}`);
  await mkdir(artifactsDir, { recursive: true });
  const path = resolve(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
