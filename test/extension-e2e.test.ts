import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { launchBrowser, screenshot } from './harness/browser';
import { createFakeClerk, type FakeClerk } from './harness/clerk';
import { openWorkbench, runCommand, startCodeServer, type RunningCodeServer } from './harness/code-server';
import { startStack, type Stack } from './harness/context';

const vsix = resolve(import.meta.dirname, '../extension/dist/glm-gateway.vsix');

/** The chat webview is an iframe inside an iframe of the workbench: find the frame that holds our composer. */
async function chatFrame(page: Page): Promise<Frame> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      if (await frame.locator('#app').count().catch(() => 0)) return frame;
    }
    if (Date.now() > deadline) throw new Error('chat webview not found');
    await page.waitForTimeout(250);
  }
}

describe('the VS Code extension in a real VS Code (code-server)', function () {
  this.timeout(600_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let codeServer: RunningCodeServer;
  let browser: Browser;
  let page: Page;
  let folder: string;
  const clerkId = `user_vscode${Date.now()}`;

  before(async () => {
    // `npm test` packages the extension first; a run of this file alone packages it when missing.
    if (!existsSync(vsix)) {
      const built = spawnSync('pnpm', ['--filter', 'extension', 'package'], { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' });
      assert.equal(built.status, 0, built.stderr);
    }
    clerk = await createFakeClerk();
    // code-server rewrites localhost URLs an extension opens into its own proxy, so the website lives on
    // another loopback address, as a real deployment lives on its own host.
    stack = await startStack({ instances: 0, env: clerk.env });
    const site = await stack.addServer({ DEFAULT_RPM: '2' }, '127.0.0.2');
    folder = await mkdtemp(join(tmpdir(), 'glmgw-e2e-'));
    codeServer = await startCodeServer({ folder, vsix, settings: { 'glmGateway.serverUrl': site.url } });
    browser = await launchBrowser();
    page = await openWorkbench(browser, codeServer.url);
  });
  after(async () => {
    await browser?.close();
    await codeServer?.stop();
    await stack?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('signs in through the website: approve the device, and the key lands in SecretStorage', async () => {
    const site = stack.servers[0]!.url;
    await page.context().addCookies([
      { name: '__session', value: await clerk.sessionToken(clerkId, { azp: site, claims: { email: 'dev@example.test' } }), url: site },
      { name: '__client_uat', value: String(Math.floor(Date.now() / 1000) - 10), url: site },
      { name: '__clerk_db_jwt', value: 'dvb_test', url: site },
      // Arriving from another origin (the editor), Clerk first syncs the session with its own servers (a
      // "handshake"), which cannot happen offline; this cookie says that round trip already took place.
      { name: '__clerk_redirect_count', value: '1', url: site },
    ]);
    const popup = page.context().waitForEvent('page');
    await runCommand(page, 'GLM Gateway: Sign In');
    // VS Code asks before opening an external site, as it would for a person.
    await page.locator('.monaco-dialog-box').getByRole('button', { name: 'Open' }).click({ timeout: 30_000 }).catch(async (err: unknown) => {
      await screenshot(page, 'extension-sign-in-failed');
      throw err;
    });
    const connect = await popup;
    await connect.getByRole('button', { name: 'Approve' }).waitFor().catch(async (err: unknown) => {
      await screenshot(connect, 'extension-connect-failed');
      throw new Error(`connect page at ${connect.url()} shows no Approve button`, { cause: err });
    });
    assert.ok(await connect.getByText('dev@example.test').isVisible(), 'the page says which account is connecting');
    await screenshot(connect, 'extension-connect-page');
    await connect.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(/signed in as dev@example.test/).first().waitFor({ timeout: 30_000 }).catch(async (err: unknown) => {
      await screenshot(page, 'extension-sign-in-failed');
      await screenshot(connect, 'extension-callback-failed');
      const requests = await stack.db.collection('extension_connect_requests').find().toArray();
      throw new Error(`not signed in; callback page ${connect.url()}; requests ${JSON.stringify(requests.map((r) => r.redirectUri))}`, { cause: err });
    });
    const keys = await stack.db.collection('api_keys').find({ name: /^VS Code on / }).toArray();
    assert.equal(keys.length, 1, 'one key, named after the device');
  });

  it('asks a question and shows the streamed answer', async () => {
    await runCommand(page, 'GLM Gateway: Open Chat');
    const chat = await chatFrame(page);
    await chat.locator('textarea').fill('Say hello');
    await chat.locator('textarea').press('Enter');
    await chat.getByText('tok tok tok').waitFor();
    await screenshot(page, 'extension-chat-answer');
  });

  it('stops a long answer midway', async () => {
    const chat = await chatFrame(page);
    await chat.locator('textarea').fill('Tell me a long story fake:{"chunks":400,"delayMs":40}');
    await chat.locator('textarea').press('Enter');
    await chat.getByText(/tok tok tok tok tok/).last().waitFor();
    await chat.getByRole('button', { name: 'Stop' }).click();
    await chat.getByText('Stopped').waitFor();
    await screenshot(page, 'extension-chat-stopped');
  });

  it('shows a rate limit as words, with when it resets', async () => {
    const chat = await chatFrame(page);
    // The limit counts calendar minutes: when a new one began since the two questions above, this key has two
    // more requests to spend before the third is refused.
    const limited = chat.getByText(/Rate limit of 2 requests per minute/);
    for (let sent = 0; sent < 3 && !(await limited.isVisible()); sent++) {
      await chat.locator('textarea').fill('One more');
      await chat.locator('textarea').press('Enter');
      await limited.waitFor({ timeout: 5_000 }).catch(() => undefined);
    }
    await limited.waitFor();
    await chat.getByText(/Try again in \d+ s/).waitFor();
    await screenshot(page, 'extension-chat-rate-limited');
  });
});
