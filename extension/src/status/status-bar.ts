import * as vscode from 'vscode';
import type { ApiClient } from '../api/api-client';
import type { AuthService } from '../auth/auth-service';

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

/** Signed-in state and today's tokens against the quota, refreshed after answers and every minute. */
export function registerStatusBar(context: vscode.ExtensionContext, api: ApiClient, auth: AuthService): () => void {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  context.subscriptions.push(item);

  async function update(): Promise<void> {
    if (!(await auth.token())) {
      item.text = '$(sign-in) GLM Gateway';
      item.tooltip = 'Sign in to the GLM Gateway';
      item.command = 'glmGateway.signIn';
      item.show();
      return;
    }
    item.command = 'glmGateway.focusChat';
    try {
      const me = await api.me();
      item.text = `$(comment-discussion) ${compact.format(me.today.tokens)} / ${compact.format(me.today.limit)}`;
      item.tooltip = `GLM Gateway: ${me.account.email ?? me.key.name}\nToday: ${me.today.tokens.toLocaleString('en')} of ${me.today.limit.toLocaleString('en')} tokens, ${me.today.requests} requests`;
    } catch {
      item.text = '$(comment-discussion) GLM Gateway';
      item.tooltip = 'GLM Gateway: usage unavailable right now';
    }
    item.show();
  }

  const timer = setInterval(() => void update(), 60_000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) }, auth.onDidChangeState(() => void update()));
  void update();
  return () => void update();
}
