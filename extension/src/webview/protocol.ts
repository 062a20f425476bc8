/**
 * Every message between the chat webview and the extension host, both directions, in one place. Both sides
 * switch over `type` exhaustively (ending in `assertNever`), so adding a message without handling it fails
 * the build.
 */

export type ChatErrorKind = 'auth' | 'rate_limit' | 'server' | 'network' | 'bad_request';

export interface ChatError {
  kind: ChatErrorKind;
  message: string;
  /** For `rate_limit`: seconds until the limit resets, from Retry-After. */
  retryAfterSec?: number;
}

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  /** GLM's thinking (`reasoning_content`), shown collapsed. */
  reasoning?: string;
  model?: string;
  error?: ChatError;
  /** The answer was stopped by the user before it finished. */
  stopped?: boolean;
}

export interface ViewState {
  signedIn: boolean;
  account: string | null;
  models: string[];
  model: string | null;
  messages: ChatMessage[];
}

/** Host → webview. */
export type HostMessage =
  | { type: 'state'; state: ViewState }
  | { type: 'assistantStart'; requestId: string; message: ChatMessage }
  | { type: 'assistantDelta'; requestId: string; content: string; reasoning: string }
  | { type: 'assistantEnd'; requestId: string; stopped: boolean }
  | { type: 'assistantError'; requestId: string; error: ChatError };

/** Webview → host. Requests that start work carry a `requestId` chosen by the webview. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'send'; requestId: string; text: string; model: string | null; includeSelection: boolean; includeFile: boolean }
  | { type: 'stop'; requestId: string }
  | { type: 'retry'; requestId: string }
  | { type: 'newChat' }
  | { type: 'signIn' }
  | { type: 'selectModel'; model: string }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string };

export function assertNever(value: never): never {
  throw new Error(`unhandled message: ${JSON.stringify(value)}`);
}
