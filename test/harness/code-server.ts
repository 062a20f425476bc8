import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, type Page } from 'playwright-core';
import { freePort } from './ports';

export interface RunningCodeServer {
  /** The workbench URL; code-server redirects it to the folder it was started on. */
  url: string;
  stop(): Promise<void>;
  /** Everything code-server printed, for diagnosing a failed test. */
  output(): string;
}

export interface CodeServerOptions {
  /** Shared between runs to keep installed extensions; a fresh temp dir when omitted. */
  extensionsDir?: string;
  /** A .vsix installed (with --force, so a rebuilt package replaces the old one) before the server starts. */
  vsix?: string;
  /** The folder the workbench opens. */
  folder: string;
  /** Extra environment for code-server and, through it, the extension host. */
  env?: Record<string, string>;
  /** User settings on top of the quiet defaults (e.g. an extension's server URL). */
  settings?: Record<string, unknown>;
}

const installScript = resolve(import.meta.dirname, '../tools/code-server.sh');
const run = promisify(execFile);

// Keeps the workbench free of first-run UI and network chatter, so tests see only what they caused.
const quietSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'workbench.editor.empty.hint': 'hidden',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.openRepositoryInParentFolders': 'never',
  // Headless Chromium has no GPU; the DOM renderer also keeps terminal text readable from the page.
  'terminal.integrated.gpuAcceleration': 'off',
};

// Cached so the install check (and a possible cold install of about a minute) runs once per test process.
let entry: Promise<string> | undefined;

function codeServerEntry(): Promise<string> {
  entry ??= run('bash', [installScript], { maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
    (err: unknown) => {
      entry = undefined;
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`test/tools/code-server.sh failed:\n${stderr.slice(-4000)}`, { cause: err });
    },
  );
  return entry;
}

/**
 * Only what code-server and a terminal need: variables such as VSCODE_IPC_HOOK_CLI (set inside a VS Code
 * terminal) would make code-server hand its arguments to that editor, and PORT or PASSWORD would override flags.
 * Private XDG dirs keep its default config, logs and heartbeat out of the user's home.
 */
function codeServerEnv(root: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = ['PATH', 'HOME', 'USER', 'SHELL', 'LANG', 'TMPDIR'] as const;
  const env: NodeJS.ProcessEnv = {};
  for (const name of inherited) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    XDG_CONFIG_HOME: join(root, 'xdg-config'),
    XDG_DATA_HOME: join(root, 'xdg-data'),
    ...extra,
  };
}

/** Starts a real code-server (VS Code in the browser) with no auth on a free loopback port. */
export async function startCodeServer(opts: CodeServerOptions): Promise<RunningCodeServer> {
  const entryPath = await codeServerEntry();
  const root = await mkdtemp(join(tmpdir(), 'code-server-'));
  const userDataDir = join(root, 'user-data');
  const extensionsDir = opts.extensionsDir ?? join(root, 'extensions');
  await mkdir(join(userDataDir, 'User'), { recursive: true });
  await mkdir(extensionsDir, { recursive: true });
  await writeFile(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...quietSettings, ...opts.settings }, null, 2));
  const env = codeServerEnv(root, opts.env);
  const dirs = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];

  if (opts.vsix) {
    await run(process.execPath, [entryPath, '--install-extension', opts.vsix, '--force', ...dirs], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: unknown) => {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
      throw new Error(`installing ${opts.vsix} into code-server failed:\n${stdout}${stderr}`, { cause: err });
    });
  }

  const port = await freePort();
  const args = [
    entryPath,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    ...dirs,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    opts.folder,
  ];
  // Its own process group: code-server forks a child, which runs the pty host and extension hosts;
  // stopping the group ends all of them, not just the wrapper.
  const child = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is already gone.
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup('SIGTERM');
      const killer = setTimeout(() => signalGroup('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    // Children that outlived the wrapper (an extension host mid-shutdown) would keep files open.
    signalGroup('SIGKILL');
    await rm(root, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`code-server exited (${child.exitCode ?? child.signalCode}) before listening:\n${out}`);
    }
    const answered = await fetch(`${url}healthz`).then((r) => r.ok, () => false);
    if (answered) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return { url, stop, output: () => out };
}

/** Opens the workbench in a new page and waits until VS Code has finished starting (extensions included). */
export async function openWorkbench(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  // Drawn is not ready: until VS Code's last startup phase it still restores editors, reconnects terminals
  // and starts the extension host, and a command run earlier can lose its focus to that restore.
  // The workbench records each phase as a performance mark, which is the one signal it gives a page.
  await page.waitForFunction(() => performance.getEntriesByName('code/LifecyclePhase/Eventually').length > 0, null, {
    timeout: 60_000,
  });
  return page;
}

/** Runs a command the way a user does: F1, the title as the palette shows it (`Category: Title`), Enter. */
export async function runCommand(page: Page, title: string): Promise<void> {
  const palette = page.locator('.quick-input-widget');
  await page.keyboard.press('F1');
  const input = palette.locator('input');
  await input.waitFor({ state: 'visible' });
  // F1 pre-fills '>', which selects commands; typing after it keeps that mode.
  await input.pressSequentially(title);
  // Enter before the list has filtered would run whatever command happened to be first.
  await palette
    .locator('.monaco-list-row.focused', { has: page.getByText(title, { exact: true }) })
    .waitFor({ state: 'visible' });
  await page.keyboard.press('Enter');
  await palette.waitFor({ state: 'hidden' });
}
