import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { loadConfig } from '@glm-gateway/web/src/config';
import { createServices, type Services } from '@glm-gateway/web/src/services';
import type { Stack } from './context';

const webDir = resolve(import.meta.dirname, '../../web');

/** Runs `pnpm gw ...` (the operator CLI) against a stack's database; resolves with its exit code and output. */
export function gw(stack: Stack, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/gw.ts', ...args], {
      cwd: webDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MONGODB_URI: stack.mongoUri, LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** The same domain modules the server and CLI use, in-process, for setting up many accounts quickly. */
export function domain(stack: Stack): Promise<Services> {
  return createServices(loadConfig({ MONGODB_URI: stack.mongoUri, LOG_LEVEL: 'silent' }), { gateway: false });
}

export interface Account {
  userId: string;
  keyId: string;
  secret: string;
}

export async function provision(services: Services, limits: { rpm?: number; dailyTokens?: number } = {}): Promise<Account> {
  const user = await services.users.create({ email: `dev-${Math.random().toString(36).slice(2)}@example.test`, limits });
  const { key, secret } = await services.keys.issue(user._id, 'test');
  return { userId: user._id, keyId: key._id, secret };
}
