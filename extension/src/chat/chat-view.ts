import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { ApiError, type ApiClient, type ChatTurn } from '../api/api-client';
import type { AuthService } from '../auth/auth-service';
import { assertNever, type ChatError, type ChatMessage, type HostMessage, type WebviewMessage } from '../webview/protocol';
import { editorContext } from './editor-context';
import type { ChatHistory } from './history';

/** The chat in its own activity-bar view: streams answers, keeps the conversation, shows errors in words. */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'glmGateway.chat';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private queue: HostMessage[] = [];
  private messages: ChatMessage[];
  private models: string[] = [];
  private model: string | null = null;
  private readonly running = new Map<string, AbortController>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly api: ApiClient,
    private readonly auth: AuthService,
    private readonly history: ChatHistory,
    private readonly onAnswered: () => void,
  ) {
    this.messages = history.load();
    this.disposables.push(auth.onDidChangeState(() => void this.refresh()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [root] };
    view.webview.html = this.html(view.webview, root);
    this.disposables.push(
      view.webview.onDidReceiveMessage((m: WebviewMessage) => void this.receive(m)),
      view.onDidDispose(() => {
        this.view = undefined;
        this.ready = false;
      }),
    );
  }

  /** Starts a new conversation (the command and the view's button). */
  async newChat(): Promise<void> {
    for (const c of this.running.values()) c.abort();
    this.messages = [];
    await this.history.save(this.messages);
    this.postState();
  }

  dispose(): void {
    for (const c of this.running.values()) c.abort();
    this.disposables.forEach((d) => d.dispose());
  }

  private async receive(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.queue.splice(0).forEach((q) => void this.view?.webview.postMessage(q));
        await this.refresh();
        return;
      case 'send':
        this.messages.push({ id: randomUUID(), role: 'user', content: m.text });
        if (m.model) this.model = m.model;
        await this.answer(m.requestId, editorContext(m.includeSelection, m.includeFile));
        return;
      case 'retry':
        if (this.messages.at(-1)?.role === 'assistant') this.messages.pop();
        await this.answer(m.requestId, '');
        return;
      case 'stop':
        this.running.get(m.requestId)?.abort();
        return;
      case 'newChat':
        await this.newChat();
        return;
      case 'signIn':
        await vscode.commands.executeCommand('glmGateway.signIn');
        return;
      case 'selectModel':
        this.model = m.model;
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(m.text);
        void vscode.window.setStatusBarMessage('Copied', 1500);
        return;
      case 'insert': {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
          void vscode.window.showInformationMessage('Open a file to insert the code into.');
          return;
        }
        await editor.edit((e) => editor.selections.forEach((s) => e.replace(s, m.text)));
        return;
      }
      default:
        assertNever(m);
    }
  }

  /** Streams the answer to the conversation so far; `context` is prepended to the last question only. */
  private async answer(requestId: string, context: string): Promise<void> {
    const model = this.model ?? this.models[0];
    const reply: ChatMessage = { id: randomUUID(), role: 'assistant', content: '', reasoning: '', ...(model ? { model } : {}) };
    this.post({ type: 'assistantStart', requestId, message: reply });
    const turns: ChatTurn[] = this.messages.filter((m) => !m.error).map((m) => ({ role: m.role, content: m.content }));
    const last = turns.at(-1);
    if (last && context) last.content = context + last.content;
    this.messages.push(reply);
    const abort = new AbortController();
    this.running.set(requestId, abort);
    try {
      if (!model) throw new ApiError('server', 'The gateway offers no models yet.', null);
      for await (const delta of this.api.chat(model, turns, abort.signal)) {
        reply.content += delta.content;
        reply.reasoning = (reply.reasoning ?? '') + delta.reasoning;
        this.post({ type: 'assistantDelta', requestId, content: delta.content, reasoning: delta.reasoning });
      }
      this.post({ type: 'assistantEnd', requestId, stopped: false });
    } catch (err) {
      if (abort.signal.aborted) {
        reply.stopped = true;
        this.post({ type: 'assistantEnd', requestId, stopped: true });
      } else {
        reply.error = toChatError(err);
        this.post({ type: 'assistantError', requestId, error: reply.error });
        if (reply.error.kind === 'auth') await this.auth.clear();
      }
    } finally {
      this.running.delete(requestId);
      await this.history.save(this.messages);
      this.onAnswered();
    }
  }

  private async refresh(): Promise<void> {
    if (await this.auth.token()) {
      try {
        this.models = await this.api.models();
        const preferred = vscode.workspace.getConfiguration('glmGateway').get<string>('defaultModel');
        if (!this.model || !this.models.includes(this.model)) this.model = preferred && this.models.includes(preferred) ? preferred : (this.models[0] ?? null);
      } catch (err) {
        if (err instanceof ApiError && err.kind === 'auth') await this.auth.clear();
      }
    }
    this.postState();
  }

  private postState(): void {
    void this.auth.token().then((token) =>
      this.post({ type: 'state', state: { signedIn: Boolean(token), account: this.auth.account(), models: this.models, model: this.model, messages: this.messages } }),
    );
  }

  /** Messages sent before the webview says it is ready are queued, not lost. */
  private post(m: HostMessage): void {
    if (this.view && this.ready) void this.view.webview.postMessage(m);
    else this.queue.push(m);
  }

  private html(webview: vscode.Webview, root: vscode.Uri): string {
    const nonce = randomUUID().replace(/-/g, '');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(root, 'main.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(root, 'main.css'));
    const csp = [`default-src 'none'`, `img-src ${webview.cspSource} data:`, `style-src ${webview.cspSource}`, `font-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>GLM Gateway</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }
}

function toChatError(err: unknown): ChatError {
  if (err instanceof ApiError) return { kind: err.kind, message: err.message, ...(err.retryAfterSec ? { retryAfterSec: err.retryAfterSec } : {}) };
  return { kind: 'server', message: err instanceof Error ? err.message : String(err) };
}
