import * as vscode from 'vscode';
import { ApiClient } from './api/api-client';
import { AuthService } from './auth/auth-service';
import { ChatViewProvider } from './chat/chat-view';
import { ChatHistory } from './chat/history';
import { registerCommands } from './commands/register-commands';
import { registerLanguageModels } from './lm/language-model-provider';
import { registerStatusBar } from './status/status-bar';

/** Wiring only: build the services, hand them to the registrars. */
export function activate(context: vscode.ExtensionContext): void {
  const serverUrl = () => vscode.workspace.getConfiguration('glmGateway').get<string>('serverUrl') ?? 'http://127.0.0.1:3000';
  const auth: AuthService = new AuthService(context, () => api);
  const api = new ApiClient(serverUrl, () => auth.token());
  const refreshStatus = registerStatusBar(context, api, auth);
  const chat = new ChatViewProvider(context.extensionUri, api, auth, new ChatHistory(context.globalState), refreshStatus);

  context.subscriptions.push(
    auth,
    chat,
    vscode.authentication.registerAuthenticationProvider(AuthService.providerId, 'GLM Gateway', auth, { supportsMultipleAccounts: false }),
    vscode.window.registerUriHandler(auth),
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewId, chat, { webviewOptions: { retainContextWhenHidden: true } }),
  );
  registerCommands(context, auth, chat);
  registerLanguageModels(context, api);
}

export function deactivate(): void {}
