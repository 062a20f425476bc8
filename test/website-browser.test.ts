import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type Browser } from 'playwright-core';
import { launchBrowser, screenshot } from './harness/browser';
import { startStack, type Stack } from './harness/context';

describe('browser harness', function () {
  // Generous: a fresh machine may have to apt-install Chromium on first launch.
  this.timeout(120_000);
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('renders the home page in a real browser, saying sign-in is not configured', async () => {
    const page = await browser!.newPage();
    await page.goto(stack!.servers[0]!.url, { waitUntil: 'load' });
    await page.getByRole('heading', { name: 'glm-gateway' }).waitFor();
    // The notice is what a visitor actually sees, not just text somewhere in the HTML.
    assert.ok(await page.getByText('Sign-in is not configured').isVisible());
    const file = await screenshot(page, 'home-without-sign-in');
    assert.ok(existsSync(file));
  });
});
