import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser, screenshot } from '../harness/browser';
import { chat } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';

describe('dashboard in a real browser', function () {
  this.timeout(120_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let browser: Browser;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: clerk.env });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  /**
   * A browser context with the cookies Clerk's own scripts would have set, offline: signed in as `clerkId`,
   * or (without one) a known browser that is signed out. `__client_uat` must not be newer than the session
   * token, or Clerk asks its servers for a fresh one.
   */
  async function browserAs(clerkId?: string): Promise<BrowserContext> {
    const url = stack.servers[0]!.url;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const cookies = [
      { name: '__client_uat', value: clerkId ? String(Math.floor(Date.now() / 1000) - 10) : '0', url },
      { name: '__clerk_db_jwt', value: 'dvb_test', url },
    ];
    if (clerkId) cookies.push({ name: '__session', value: await clerk.sessionToken(clerkId, { azp: url, claims: { email: 'grace@example.test' } }), url });
    await context.addCookies(cookies);
    // Clerk's widgets cannot load offline; the dashboard must work without them.
    await context.route(/clerk\.glm-gateway\.test|clerk\.accounts\.dev|clerk\.com/, (route) => route.abort());
    return context;
  }

  it('a signed-out visitor is sent to sign in', async () => {
    const context = await browserAs();
    const page = await context.newPage();
    await page.goto(`${stack.servers[0]!.url}/dashboard`);
    assert.match(page.url(), /\/sign-in$/);
    await context.close();
  });

  it('shows the provisioned key, creates a key with a copyable secret that works, and revokes it', async () => {
    const context = await browserAs(`user_browser${Date.now()}`);
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${stack.servers[0]!.url}/dashboard`);
    await page.getByRole('heading', { name: 'Your gateway' }).waitFor();
    assert.ok(await page.getByText('grace@example.test').isVisible());
    assert.equal(await page.locator('tbody tr[data-key-id]').count(), 1, 'the default key provisioned on first visit');
    assert.ok(await page.getByRole('button', { name: 'Reveal secret' }).isVisible());
    await screenshot(page, 'dashboard-first-visit');

    await page.getByLabel('New key name').fill('browser test');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-secret').textContent())?.trim() ?? '';
    assert.match(secret, /^glmgw_[0-9A-Za-z]{32}$/);
    assert.ok(await page.getByRole('button', { name: 'Copy' }).isVisible());
    await screenshot(page, 'dashboard-key-created');
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hello from the browser test' }] })).status, 200);

    const row = page.locator('tbody tr', { hasText: 'browser test' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    assert.equal((await chat(stack.servers[0]!.url, secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 401);

    await page.reload();
    await page.getByText('Recent requests').waitFor();
    assert.ok(await page.locator('table').filter({ hasText: 'glm-4.6' }).first().isVisible(), 'the request shows in usage');
    await page.locator('.recharts-surface').first().waitFor(); // the usage chart draws after hydration
    await screenshot(page, 'dashboard-after-revoke');
    await context.close();
  });
});
