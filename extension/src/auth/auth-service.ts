import { hostname } from 'node:os';
import * as vscode from 'vscode';
import type { ApiClient } from '../api/api-client';
import { createPkce } from './pkce';

const SECRET_KEY = 'glmGateway.gatewayKey';
const ACCOUNT_KEY = 'glmGateway.account';
const SIGN_IN_TIMEOUT_MS = 10 * 60_000;

interface PendingSignIn {
  state: string;
  resolve(code: string): void;
  reject(err: Error): void;
}

/**
 * The only code that touches `context.secrets`. Holds the extension's own gateway key (never the upstream
 * credential, never in settings or logs), runs the browser sign-in, and is VS Code's authentication
 * provider, so the account shows in the Accounts menu and signs out from there.
 */
export class AuthService implements vscode.AuthenticationProvider, vscode.UriHandler, vscode.Disposable {
  static readonly providerId = 'glm-gateway';
  private readonly sessionsChanged = new vscode.EventEmitter<vscode.AuthenticationProviderAuthenticationSessionsChangeEvent>();
  readonly onDidChangeSessions = this.sessionsChanged.event;
  private readonly stateChanged = new vscode.EventEmitter<void>();
  /** Fires whenever signed-in state changes, for the chat view and status bar. */
  readonly onDidChangeState = this.stateChanged.event;
  /** Used when the OS keyring is missing and SecretStorage refuses: signed in for this window only. */
  private memoryKey: string | undefined;
  private pending: PendingSignIn | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly api: () => ApiClient,
  ) {}

  async token(): Promise<string | undefined> {
    if (this.memoryKey) return this.memoryKey;
    try {
      return await this.context.secrets.get(SECRET_KEY);
    } catch {
      return undefined;
    }
  }

  account(): string | null {
    return this.context.globalState.get<string>(ACCOUNT_KEY) ?? null;
  }

  /** Opens the website to approve this device, then trades the one-time code for a key of our own. */
  async signInWithBrowser(): Promise<boolean> {
    const pkce = createPkce();
    const callback = await vscode.env.asExternalUri(vscode.Uri.parse(`${vscode.env.uriScheme}://${this.context.extension.id}/callback`));
    const registered = await this.api().registerSignIn({
      // Unencoded: Uri.toString() would percent-encode the `&` and `=` of code-server's forwarded query.
      redirectUri: callback.toString(true),
      state: pkce.state,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      deviceName: `${vscode.env.appName} on ${hostname()}`.slice(0, 80),
    });
    this.pending?.reject(new Error('A newer sign-in was started.'));
    const code = new Promise<string>((resolve, reject) => {
      this.pending = { state: pkce.state, resolve, reject };
      setTimeout(() => reject(new Error('Sign-in timed out. Run "GLM Gateway: Sign In" again.')), SIGN_IN_TIMEOUT_MS).unref?.();
    });
    await vscode.env.openExternal(vscode.Uri.parse(registered.connectUrl, true));
    const token = await this.api().exchangeCode(await code, pkce.verifier);
    await this.store(token.secret, token.account.email ?? token.key.name);
    return true;
  }

  /** For hosts where the browser round trip cannot come back (some remote setups). */
  async signInWithKey(key: string): Promise<void> {
    this.memoryKey = undefined;
    await this.store(key.trim(), null);
    try {
      const me = await this.api().me();
      await this.context.globalState.update(ACCOUNT_KEY, me.account.email ?? me.key.name);
      this.fire();
    } catch (err) {
      await this.clear();
      throw err;
    }
  }

  /** Revokes our key on the server (best effort: we may be offline) and forgets it here. */
  async signOut(): Promise<void> {
    if (await this.token()) await this.api().revokeOwnKey().catch(() => undefined);
    await this.clear();
  }

  /** The server no longer accepts our key (revoked, account deleted): forget it so sign-in is offered. */
  async clear(): Promise<void> {
    this.memoryKey = undefined;
    await Promise.resolve(this.context.secrets.delete(SECRET_KEY)).catch(() => undefined);
    await this.context.globalState.update(ACCOUNT_KEY, undefined);
    this.fire();
  }

  handleUri(uri: vscode.Uri): void {
    const query = new URLSearchParams(uri.query);
    const pending = this.pending;
    if (!pending) return;
    if (query.get('state') !== pending.state) {
      pending.reject(new Error('Sign-in was answered for a different attempt; try again.'));
    } else {
      const code = query.get('code');
      if (code) pending.resolve(code);
      else pending.reject(new Error('Sign-in was cancelled.'));
    }
    this.pending = undefined;
  }

  async getSessions(): Promise<vscode.AuthenticationSession[]> {
    const key = await this.token();
    const label = this.account();
    return key ? [{ id: 'glm-gateway', accessToken: key, account: { id: label ?? 'glm-gateway', label: label ?? 'GLM Gateway' }, scopes: [] }] : [];
  }

  async createSession(): Promise<vscode.AuthenticationSession> {
    await this.signInWithBrowser();
    const [session] = await this.getSessions();
    if (!session) throw new Error('Sign-in did not complete.');
    return session;
  }

  async removeSession(): Promise<void> {
    await this.signOut();
  }

  dispose(): void {
    this.sessionsChanged.dispose();
    this.stateChanged.dispose();
  }

  private async store(key: string, account: string | null): Promise<void> {
    try {
      await this.context.secrets.store(SECRET_KEY, key);
    } catch (err) {
      // Common on Linux without a keyring: keep working for this window rather than failing silently.
      this.memoryKey = key;
      void vscode.window.showWarningMessage(
        `GLM Gateway could not save your key in the OS keyring (${(err as Error).message}). You stay signed in until this window closes.`,
      );
    }
    if (account) await this.context.globalState.update(ACCOUNT_KEY, account);
    this.fire();
  }

  private fire(): void {
    this.sessionsChanged.fire({ added: [], removed: [], changed: [] });
    this.stateChanged.fire();
  }
}
