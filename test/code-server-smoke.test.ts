import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchBrowser, screenshot } from './harness/browser';
import { openWorkbench, runCommand, startCodeServer, type RunningCodeServer } from './harness/code-server';

describe('code-server harness', function () {
  // The first run on a machine installs code-server from npm and builds its native modules.
  this.timeout(600_000);
  let folder: string | undefined;
  let codeServer: RunningCodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'code-server-smoke-'));
    codeServer = await startCodeServer({ folder });
    browser = await launchBrowser();
    page = await openWorkbench(browser, codeServer.url);
  });

  after(async () => {
    await browser?.close();
    await codeServer?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('opens a real VS Code workbench on the folder it was started with', async () => {
    const name = folder!.split('/').at(-1)!;
    // The explorer titles its root after the opened folder, so this fails on an empty window or an error page.
    await page!.locator('.part.sidebar .pane-header').getByText(name, { exact: true }).waitFor();
  });

  it('runs a built-in command from the palette: View: Toggle Terminal opens a working shell', async () => {
    const terminal = page!.locator('.part.panel .terminal-wrapper .xterm');
    assert.equal(await terminal.count(), 0, 'no terminal before the command');
    await runCommand(page!, 'View: Toggle Terminal');
    await terminal.first().waitFor({ state: 'visible', timeout: 30_000 });
    // Output from a command proves the pty host (a native module) spawned a shell, not just that the panel was
    // drawn. Typing only after the prompt shows keeps the keystrokes from being echoed twice.
    const rows = page!.locator('.part.panel .xterm-rows');
    await rows.filter({ hasText: /\S/ }).waitFor({ timeout: 30_000 });
    await page!.keyboard.type('echo code-server-$((6*7))\n');
    await rows.getByText('code-server-42').waitFor({ timeout: 30_000 });
    const file = await screenshot(page!, 'code-server-workbench');
    assert.ok(existsSync(file));
  });
});
