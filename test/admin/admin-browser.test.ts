import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { domain, provision } from '../harness/accounts';
import { launchBrowser, screenshot } from '../harness/browser';
import { chat } from '../harness/client';
import { createFakeClerk, type FakeClerk } from '../harness/clerk';
import { startStack, type Stack } from '../harness/context';
import { usageRows } from '../harness/usage';

describe('admin console in a real browser', function () {
  this.timeout(120_000);
  let stack: Stack;
  let clerk: FakeClerk;
  let browser: Browser;

  before(async () => {
    clerk = await createFakeClerk();
    stack = await startStack({ env: { ...clerk.env, ADMIN_USER_IDS: 'user_console_admin' } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signedIn(clerkId: string): Promise<BrowserContext> {
    const url = stack.servers[0]!.url;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([
      { name: '__session', value: await clerk.sessionToken(clerkId, { azp: url, claims: { email: `${clerkId}@example.test` } }), url },
      { name: '__client_uat', value: String(Math.floor(Date.now() / 1000) - 10), url },
      { name: '__clerk_db_jwt', value: 'dvb_test', url },
    ]);
    return context;
  }

  it('a non-admin gets a 404 page', async () => {
    const context = await signedIn(`user_curious${Date.now()}`);
    const res = await (await context.newPage()).goto(`${stack.servers[0]!.url}/admin`);
    assert.equal(res?.status(), 404);
    await context.close();
  });

  it('shows users with usage, a user detail with limits and keys, and suspends with a reason', async () => {
    const services = await domain(stack);
    const a = await provision(services);
    const email = (await services.users.findById(a.userId))!.email!;
    await services.close();
    for (const model of ['glm-4.6', 'glm-5']) await (await chat(stack.servers[0]!.url, a.secret, { model, messages: [{ role: 'user', content: 'hi there' }], fake: { chunks: 12 } })).text();
    await usageRows(stack.db, a.userId, 2);
    await new Promise((r) => setTimeout(r, 300));

    const context = await signedIn('user_console_admin');
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept('support ticket 7'));
    await page.goto(`${stack.servers[0]!.url}/admin`);
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    const row = page.locator('tbody tr', { hasText: email });
    assert.ok(await row.getByText('2 req · 28 tok').first().isVisible(), 'the user shows 2 requests today');
    await screenshot(page, 'admin-users');

    await row.getByRole('link').click();
    await page.getByRole('heading', { name: 'Limits in force' }).waitFor();
    assert.ok(await page.getByText('60 requests/min per key').isVisible());
    await page.locator('.recharts-surface').first().waitFor(); // the chart draws after hydration
    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('button', { name: 'Unsuspend' }).waitFor();
    assert.ok(await page.getByText(/user.suspend by .*support ticket 7/).isVisible(), 'the action shows in the history with its reason');
    await screenshot(page, 'admin-user-detail');
    assert.equal((await chat(stack.servers[0]!.url, a.secret, { model: 'glm-4.6', messages: [{ role: 'user', content: 'hi' }] })).status, 403);
    await context.close();
  });
});
