import { buildLayout, type DraftState, readDraft, restoreDraft } from './layout';
import { ConversationView } from './conversation-view';
import { type MessageAction } from './message-view';
import { parseHostMessage } from './parse-host-message';
import { assertNever, type ChatError, type ChatMessage, type HostMessage, type ViewState, type WebviewMessage } from './protocol';
import { codeForButton } from './render-markdown';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: DraftState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** The answer being streamed right now; this view runs one at a time. */
interface ActiveRequest {
  requestId: string;
  message: ChatMessage;
  /** Set once Stop is pressed: ends the answer locally if the host never confirms. */
  stopTimer: number | undefined;
}

/** If the host never confirms a Stop, the view ends the answer itself rather than stay stuck streaming. */
const STOP_CONFIRM_TIMEOUT_MS = 5000;

const vscode = acquireVsCodeApi();
const ui = buildLayout(document.getElementById('app') ?? document.body);
const conversation = new ConversationView(ui.conversation, ui.emptyHint, isStreaming);

let view: ViewState | null = null;
let active: ActiveRequest | null = null;
let renderFrame = 0;

restoreDraft(ui, vscode.getState());
window.addEventListener('message', onHostEvent);
ui.signInButton.addEventListener('click', requestSignIn);
ui.newChatButton.addEventListener('click', startNewChat);
ui.modelSelect.addEventListener('change', selectModel);
ui.composer.addEventListener('submit', onComposerSubmit);
ui.prompt.addEventListener('keydown', onPromptKeydown);
ui.stopButton.addEventListener('click', stopAnswer);
ui.conversation.addEventListener('click', onConversationClick);
for (const input of [ui.prompt, ui.includeSelection, ui.includeFile]) input.addEventListener('input', saveDraft);
post({ type: 'ready' });

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

function saveDraft(): void {
  vscode.setState(readDraft(ui));
}

function onHostEvent(event: MessageEvent<unknown>): void {
  const message = parseHostMessage(event.data);
  if (message === null) {
    showNotice('The extension sent an update this view could not read; it was ignored.');
    return;
  }
  try {
    handleHostMessage(message);
  } catch {
    // One bad update must not leave the view half-drawn; a full redraw from the last good state recovers.
    showNotice('Something went wrong showing the last update; the conversation was redrawn.');
    renderView();
  }
}

function handleHostMessage(message: HostMessage): void {
  switch (message.type) {
    case 'state':
      applyState(message.state);
      return;
    case 'assistantStart':
      startAnswer(message.requestId, message.message);
      return;
    case 'assistantDelta':
      appendDelta(message.requestId, message.content, message.reasoning);
      return;
    case 'assistantEnd':
      endAnswer(message.requestId, message.stopped);
      return;
    case 'assistantError':
      failAnswer(message.requestId, message.error);
      return;
    default:
      assertNever(message);
  }
}

/**
 * The host's state is the truth, but it may not know yet what this view added for an answer in flight (the
 * user's message, the placeholder, deltas received since), so those are kept when the host's list lacks them.
 */
function applyState(next: ViewState): void {
  const messages = [...next.messages];
  if (active !== null && next.signedIn) {
    const streaming = active.message;
    const index = messages.findIndex((message) => message.id === streaming.id);
    if (index >= 0) {
      // Keep the very object deltas are appended to, so the redraw below still shows it as live.
      messages[index] = streaming;
    } else {
      const localUserId = `local-${active.requestId}`;
      const localUser = view?.messages.find((message) => message.id === localUserId);
      const last = messages[messages.length - 1];
      if (localUser && !(last?.role === 'user' && last.content === localUser.content)) messages.push(localUser);
      messages.push(streaming);
    }
  } else {
    clearActive();
  }
  view = { ...next, messages };
  ui.notice.hidden = true;
  renderView();
}

function startAnswer(requestId: string, message: ChatMessage): void {
  if (view === null || active?.requestId !== requestId) return;
  const placeholderId = active.message.id;
  // The host names the message; deltas that beat assistantStart (none should) are kept, not lost.
  const started: ChatMessage = {
    ...message,
    content: message.content + active.message.content,
    reasoning: (message.reasoning ?? '') + (active.message.reasoning ?? ''),
  };
  replaceMessage(placeholderId, started);
  active.message = started;
  scheduleRender();
}

function appendDelta(requestId: string, content: string, reasoning: string): void {
  if (active?.requestId !== requestId) return;
  active.message.content += content;
  if (reasoning !== '') active.message.reasoning = (active.message.reasoning ?? '') + reasoning;
  scheduleRender();
}

function endAnswer(requestId: string, stopped: boolean): void {
  if (active?.requestId !== requestId) return;
  if (stopped) active.message.stopped = true;
  const finished = active.message;
  clearActive();
  conversation.update(finished);
}

function failAnswer(requestId: string, error: ChatError): void {
  if (active?.requestId !== requestId) return;
  active.message.error = error;
  const failed = active.message;
  clearActive();
  conversation.update(failed);
}

function clearActive(): void {
  if (active !== null) window.clearTimeout(active.stopTimer);
  active = null;
  updateComposer();
}

function replaceMessage(id: string, next: ChatMessage): void {
  if (view === null) return;
  const index = view.messages.findIndex((message) => message.id === id);
  if (index >= 0) view.messages[index] = next;
  conversation.rename(id, next.id);
}

// ---------------------------------------------------------------------------------------------- rendering

/** Coalesces a burst of deltas into one render per frame; re-rendering markdown per token would lag. */
function scheduleRender(): void {
  if (renderFrame !== 0) return;
  renderFrame = window.requestAnimationFrame(renderActiveFrame);
}

function renderActiveFrame(): void {
  renderFrame = 0;
  if (active !== null) conversation.update(active.message);
}

function isStreaming(message: ChatMessage): boolean {
  return active?.message === message;
}

function renderView(): void {
  ui.loading.hidden = view !== null;
  ui.signedOut.hidden = view === null || view.signedIn;
  ui.signedIn.hidden = view === null || !view.signedIn;
  if (view === null || !view.signedIn) return;

  ui.account.textContent = view.account === null ? '' : `Signed in as ${view.account}`;
  renderModelOptions(view.models, view.model);
  conversation.showAll(view.messages);
  updateComposer();
}

function renderModelOptions(models: string[], selected: string | null): void {
  const options = models.map((model) => new Option(model, model, false, model === selected));
  if (options.length === 0) options.push(new Option('No models available', '', true, true));
  ui.modelSelect.replaceChildren(...options);
  ui.modelSelect.disabled = models.length === 0;
}

function appendMessage(message: ChatMessage): void {
  if (view === null) return;
  view.messages.push(message);
  conversation.append(message);
}

function removeMessage(id: string): void {
  if (view === null) return;
  view.messages = view.messages.filter((message) => message.id !== id);
  conversation.remove(id);
}

function updateComposer(): void {
  const streaming = active !== null;
  ui.sendButton.hidden = streaming;
  ui.stopButton.hidden = !streaming;
  ui.stopButton.disabled = streaming && active?.stopTimer !== undefined;
  ui.stopButton.textContent = ui.stopButton.disabled ? 'Stopping…' : 'Stop';
  ui.conversation.setAttribute('aria-busy', String(streaming));
}

function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

// ------------------------------------------------------------------------------------------ user actions

function onComposerSubmit(event: SubmitEvent): void {
  event.preventDefault();
  sendPrompt();
}

function onPromptKeydown(event: KeyboardEvent): void {
  // isComposing: Enter that confirms an IME candidate (Chinese, Japanese, ...) must not send half a sentence.
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  sendPrompt();
}

function sendPrompt(): void {
  const text = ui.prompt.value.trim();
  if (view === null || !view.signedIn || active !== null || text === '') return;
  const requestId = crypto.randomUUID();
  appendMessage({ id: `local-${requestId}`, role: 'user', content: text });
  post({
    type: 'send',
    requestId,
    text,
    model: view.model,
    includeSelection: ui.includeSelection.checked,
    includeFile: ui.includeFile.checked,
  });
  ui.prompt.value = '';
  saveDraft();
  awaitAnswer(requestId);
}

/** Shows the answer as under way at once, before the host has said anything about it. */
function awaitAnswer(requestId: string): void {
  const placeholder: ChatMessage = { id: `pending-${requestId}`, role: 'assistant', content: '' };
  if (view?.model) placeholder.model = view.model;
  active = { requestId, message: placeholder, stopTimer: undefined };
  appendMessage(placeholder);
  updateComposer();
}

function stopAnswer(): void {
  if (active === null || active.stopTimer !== undefined) return;
  const { requestId } = active;
  post({ type: 'stop', requestId });
  active.stopTimer = window.setTimeout(function endUnconfirmedStop() {
    endAnswer(requestId, true);
  }, STOP_CONFIRM_TIMEOUT_MS);
  updateComposer();
}

function retryLastRequest(): void {
  if (view === null || active !== null) return;
  const last = view.messages[view.messages.length - 1];
  // A failed answer with nothing in it is replaced by the new attempt instead of stacking error upon error.
  if (last?.role === 'assistant' && last.error !== undefined && last.content === '') removeMessage(last.id);
  const requestId = crypto.randomUUID();
  post({ type: 'retry', requestId });
  awaitAnswer(requestId);
}

function startNewChat(): void {
  // The old answer would land in a conversation that is no longer shown, so it is not worth its tokens.
  if (active !== null) post({ type: 'stop', requestId: active.requestId });
  clearActive();
  post({ type: 'newChat' });
  ui.prompt.focus();
}

function requestSignIn(): void {
  post({ type: 'signIn' });
}

function selectModel(): void {
  const model = ui.modelSelect.value;
  if (view === null || model === '') return;
  view.model = model;
  post({ type: 'selectModel', model });
}

function onConversationClick(event: MouseEvent): void {
  if (!(event.target instanceof Element)) return;
  const button = event.target.closest<HTMLButtonElement>('button[data-action]');
  if (button === null) return;
  const action = button.dataset.action;
  if (isMessageAction(action)) runMessageAction(action, button);
}

function isMessageAction(value: string | undefined): value is MessageAction {
  return value === 'copy' || value === 'insert' || value === 'sign-in' || value === 'retry';
}

function runMessageAction(action: MessageAction, button: HTMLButtonElement): void {
  switch (action) {
    case 'copy':
    case 'insert': {
      const text = codeForButton(button);
      if (text === null) return;
      post({ type: action, text });
      if (action === 'copy') flashLabel(button, 'Copied');
      return;
    }
    case 'sign-in':
      requestSignIn();
      return;
    case 'retry':
      retryLastRequest();
      return;
    default:
      assertNever(action);
  }
}

function flashLabel(button: HTMLButtonElement, label: string): void {
  const original = button.textContent;
  button.textContent = label;
  window.setTimeout(function restoreLabel() {
    button.textContent = original;
  }, 1500);
}
