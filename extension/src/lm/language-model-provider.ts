import * as vscode from 'vscode';
import type { ApiClient, ChatTurn } from '../api/api-client';

/**
 * The slice of the Language Model Chat Provider API (finalised in VS Code 1.104) this extension uses, typed
 * here because `engines.vscode` stays at ^1.100 and its typings do not have it yet.
 */
interface ChatInformation {
  id: string;
  name: string;
  family: string;
  version: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  capabilities: Record<string, never>;
}
interface LmMessagePart {
  value?: unknown;
}
interface LmMessage {
  role: number;
  content: readonly LmMessagePart[];
}
interface ChatProvider {
  provideLanguageModelChatInformation(options: unknown, token: vscode.CancellationToken): Promise<ChatInformation[]>;
  provideLanguageModelChatResponse(model: ChatInformation, messages: readonly LmMessage[], options: unknown, progress: vscode.Progress<unknown>, token: vscode.CancellationToken): Promise<void>;
  provideTokenCount(model: ChatInformation, text: string | LmMessage, token: vscode.CancellationToken): Promise<number>;
}
type Register = (vendor: string, provider: ChatProvider) => vscode.Disposable;
type TextPartCtor = new (value: string) => unknown;

const textOf = (m: LmMessage) => m.content.map((p) => (typeof p.value === 'string' ? p.value : '')).join('');

/** Offers the gateway's models to VS Code's chat where the editor supports it; does nothing elsewhere. */
export function registerLanguageModels(context: vscode.ExtensionContext, api: ApiClient): void {
  const lm = vscode.lm as unknown as { registerLanguageModelChatProvider?: Register };
  const TextPart = (vscode as unknown as { LanguageModelTextPart?: TextPartCtor }).LanguageModelTextPart;
  if (typeof lm.registerLanguageModelChatProvider !== 'function' || !TextPart) return;

  const provider: ChatProvider = {
    async provideLanguageModelChatInformation() {
      const models = await api.models().catch(() => []);
      return models.map((id) => ({ id, name: id, family: id.split('-').slice(0, 2).join('-'), version: id, maxInputTokens: 128_000, maxOutputTokens: 16_000, capabilities: {} }));
    },
    async provideLanguageModelChatResponse(model, messages, _options, progress, token) {
      const abort = new AbortController();
      const cancel = token.onCancellationRequested(() => abort.abort());
      // LanguageModelChatMessageRole: User = 1, Assistant = 2.
      const turns: ChatTurn[] = messages.map((m) => ({ role: m.role === 2 ? 'assistant' : 'user', content: textOf(m) }));
      try {
        for await (const delta of api.chat(model.id, turns, abort.signal)) if (delta.content) progress.report(new TextPart(delta.content));
      } finally {
        cancel.dispose();
      }
    },
    async provideTokenCount(_model, text) {
      // A rough count is all the editor needs for budgeting; the gateway meters the real one.
      return Math.ceil((typeof text === 'string' ? text : textOf(text)).length / 4);
    },
  };
  context.subscriptions.push(lm.registerLanguageModelChatProvider('glm-gateway', provider));
}
