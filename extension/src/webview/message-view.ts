import { type ChatError, type ChatMessage } from './protocol';
import { renderMarkdownInto } from './render-markdown';

/** What a button inside the conversation asks for; main.ts handles every one by delegation. */
export type MessageAction = 'copy' | 'insert' | 'sign-in' | 'retry';

/** Markdown already rendered into an answer element, so a frame that changed only the reasoning skips it. */
const renderedContent = new WeakMap<HTMLElement, string>();

/** Creates an element with a class and optional text; the one DOM helper the views share. */
export function createElement<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className !== '') element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

export function createActionButton(action: MessageAction, label: string): HTMLButtonElement {
  const button = createElement('button', 'message-action', label);
  button.type = 'button';
  button.dataset.action = action;
  return button;
}

/** An empty shell for one message; `updateMessageElement` fills it and keeps it current. */
export function createMessageElement(message: ChatMessage): HTMLElement {
  const root = createElement('article', `message message-${message.role}`);
  root.dataset.messageId = message.id;
  const header = createElement('header', 'message-author');
  const body = createElement('div', message.role === 'user' ? 'message-text' : 'message-answer');
  root.append(header, body);
  return root;
}

/**
 * Brings a message element up to date. `live` is true while its answer is streaming: it shows what the model
 * is doing right now, so the user never stares at a view that looks frozen.
 */
export function updateMessageElement(root: HTMLElement, message: ChatMessage, live: boolean): void {
  root.classList.toggle('is-live', live);
  root.setAttribute('aria-busy', String(live));
  root.dataset.messageId = message.id;

  const header = root.querySelector<HTMLElement>(':scope > .message-author');
  if (header !== null) header.textContent = message.role === 'user' ? 'You' : (message.model ?? 'Assistant');

  if (message.role === 'user') {
    const text = root.querySelector<HTMLElement>(':scope > .message-text');
    // What the user typed is shown verbatim: it is their words, not markup to interpret.
    if (text !== null) text.textContent = message.content;
    return;
  }

  const waiting = live && message.content === '' && (message.reasoning ?? '') === '';
  updatePendingIndicator(root, waiting);
  updateReasoning(root, message.reasoning ?? '', live && message.content === '');

  const answer = root.querySelector<HTMLElement>(':scope > .message-answer');
  if (answer !== null && renderedContent.get(answer) !== message.content) {
    renderMarkdownInto(answer, message.content);
    renderedContent.set(answer, message.content);
  }

  updateStatus(root, message.stopped === true && !live ? 'Stopped' : '');
  updateError(root, message.error);
}

function updatePendingIndicator(root: HTMLElement, waiting: boolean): void {
  const existing = root.querySelector(':scope > .message-pending');
  if (waiting && existing === null) {
    root.querySelector(':scope > .message-author')?.after(createElement('p', 'message-pending', 'Thinking…'));
  } else if (!waiting) {
    existing?.remove();
  }
}

/**
 * The reasoning stays collapsed, but while it streams the summary says "Thinking…" and shows its latest line,
 * so the activity is visible without opening it. The element is updated in place to keep the user's
 * open/closed choice across frames.
 */
function updateReasoning(root: HTMLElement, reasoning: string, thinkingNow: boolean): void {
  let details = root.querySelector<HTMLDetailsElement>(':scope > details.reasoning');
  if (reasoning === '') {
    details?.remove();
    return;
  }
  if (details === null) {
    details = createElement('details', 'reasoning');
    const summary = createElement('summary', '');
    summary.append(createElement('span', 'reasoning-label'), createElement('span', 'reasoning-preview'));
    details.append(summary, createElement('div', 'reasoning-body'));
    root.querySelector(':scope > .message-answer')?.before(details);
  }
  details.classList.toggle('is-live', thinkingNow);
  setText(details, '.reasoning-label', thinkingNow ? 'Thinking…' : 'Thinking');
  setText(details, '.reasoning-preview', thinkingNow ? latestLine(reasoning) : '');
  setText(details, '.reasoning-body', reasoning);
}

function latestLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return last.length > 120 ? `…${last.slice(-120)}` : last;
}

function setText(container: HTMLElement, selector: string, text: string): void {
  const element = container.querySelector(selector);
  if (element !== null && element.textContent !== text) element.textContent = text;
}

function updateStatus(root: HTMLElement, status: string): void {
  let element = root.querySelector<HTMLElement>(':scope > .message-status');
  if (status === '') {
    element?.remove();
    return;
  }
  if (element === null) {
    element = createElement('p', 'message-status');
    root.append(element);
  }
  element.textContent = status;
}

/** The error panel is built once per message, so a rate-limit countdown keeps the deadline it started with. */
function updateError(root: HTMLElement, error: ChatError | undefined): void {
  const existing = root.querySelector(':scope > .message-error');
  if (error === undefined) {
    existing?.remove();
    return;
  }
  if (existing !== null) return;

  const panel = createElement('div', 'message-error');
  panel.append(createElement('p', 'message-error-text', error.message));
  switch (error.kind) {
    case 'auth':
      panel.append(createActionButton('sign-in', 'Sign in'));
      break;
    case 'rate_limit': {
      const seconds = Math.max(0, Math.ceil(error.retryAfterSec ?? 0));
      if (seconds > 0) {
        const countdown = createElement('p', 'message-retry-after');
        countdown.dataset.retryAt = String(Date.now() + seconds * 1000);
        panel.append(countdown);
      }
      const retry = createActionButton('retry', 'Retry');
      // Retrying before the limit resets would only fail again; the countdown reveals the button when it ends.
      retry.hidden = seconds > 0;
      panel.append(retry);
      break;
    }
    case 'server':
    case 'network':
      panel.append(createActionButton('retry', 'Retry'));
      break;
    case 'bad_request':
      break;
  }
  root.append(panel);
  refreshCountdowns(panel);
}

/** Updates every rate-limit countdown under `container`; returns whether any is still running. */
export function refreshCountdowns(container: ParentNode): boolean {
  let running = false;
  for (const element of Array.from(container.querySelectorAll<HTMLElement>('[data-retry-at]'))) {
    const remaining = Math.ceil((Number(element.dataset.retryAt) - Date.now()) / 1000);
    if (remaining > 0) {
      element.textContent = `Try again in ${remaining} s.`;
      running = true;
    } else {
      element.textContent = 'You can try again now.';
      delete element.dataset.retryAt;
      const retry = element.parentElement?.querySelector<HTMLButtonElement>('[data-action="retry"]');
      if (retry) retry.hidden = false;
    }
  }
  return running;
}
