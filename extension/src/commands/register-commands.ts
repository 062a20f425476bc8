import * as vscode from 'vscode';
import type { AuthService } from '../auth/auth-service';
import type { ChatViewProvider } from '../chat/chat-view';

export function registerCommands(context: vscode.ExtensionContext, auth: AuthService, chat: ChatViewProvider): void {
  const say = (err: unknown) => void vscode.window.showErrorMessage(`GLM Gateway: ${err instanceof Error ? err.message : String(err)}`);
  context.subscriptions.push(
    vscode.commands.registerCommand('glmGateway.signIn', async () => {
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'GLM Gateway: waiting for approval in your browser…', cancellable: false }, () => auth.signInWithBrowser());
        void vscode.window.showInformationMessage(`GLM Gateway: signed in as ${auth.account() ?? 'you'}.`);
      } catch (err) {
        say(err);
      }
    }),
    vscode.commands.registerCommand('glmGateway.signInWithKey', async () => {
      const key = await vscode.window.showInputBox({ prompt: 'Paste a gateway key from the dashboard (glmgw_…)', password: true, ignoreFocusOut: true, validateInput: (v) => (/^glmgw_\w{20,}$/.test(v.trim()) ? null : 'A gateway key starts with glmgw_') });
      if (!key) return;
      try {
        await auth.signInWithKey(key);
        void vscode.window.showInformationMessage(`GLM Gateway: signed in as ${auth.account() ?? 'you'}.`);
      } catch (err) {
        say(err);
      }
    }),
    vscode.commands.registerCommand('glmGateway.signOut', async () => {
      await auth.signOut();
      void vscode.window.showInformationMessage('GLM Gateway: signed out; the key was revoked.');
    }),
    vscode.commands.registerCommand('glmGateway.newChat', () => chat.newChat()),
    vscode.commands.registerCommand('glmGateway.focusChat', () => vscode.commands.executeCommand('glmGateway.chat.focus')),
  );
}
