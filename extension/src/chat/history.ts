import type * as vscode from 'vscode';
import type { ChatMessage } from '../webview/protocol';

const KEY = 'glmGateway.conversation';
/** Enough for a long conversation, small enough that globalState stays cheap to load. */
const MAX_MESSAGES = 100;
const MAX_CHARS = 400_000;

/** The current conversation, kept across restarts, bounded by count and size (oldest dropped first). */
export class ChatHistory {
  constructor(private readonly state: vscode.Memento) {}

  load(): ChatMessage[] {
    return this.state.get<ChatMessage[]>(KEY) ?? [];
  }

  async save(messages: ChatMessage[]): Promise<void> {
    let kept = messages.slice(-MAX_MESSAGES);
    while (kept.length > 1 && kept.reduce((n, m) => n + m.content.length + (m.reasoning?.length ?? 0), 0) > MAX_CHARS) kept = kept.slice(1);
    await this.state.update(KEY, kept);
  }
}
