import { createElement } from './message-view';

/** What survives the view being hidden and shown again (VS Code recreates the webview's page). */
export interface DraftState {
  draft: string;
  includeSelection: boolean;
  includeFile: boolean;
}

export type Layout = ReturnType<typeof buildLayout>;

/**
 * Builds the whole view once. Everything is created from script rather than read from the host's HTML, so the
 * host page only needs to load styles.css and this bundle; sign-in state is shown by hiding sections.
 */
export function buildLayout(container: HTMLElement) {
  const loading = createElement('p', 'loading', 'Loading…');

  const signedOut = createElement('section', 'signed-out');
  signedOut.setAttribute('aria-labelledby', 'sign-in-title');
  const signInTitle = createElement('h2', '', 'Sign in to chat');
  signInTitle.id = 'sign-in-title';
  const signInButton = createButton('button', 'primary', 'Sign in');
  signedOut.append(
    signInTitle,
    createElement('p', '', 'Sign in with your browser to chat with your team’s model. There is no API key to paste.'),
    signInButton,
  );

  const signedIn = createElement('section', 'signed-in');
  const toolbar = createElement('div', 'toolbar');
  const modelSelect = createElement('select', 'model-select');
  modelSelect.id = 'model-select';
  const newChatButton = createButton('button', 'secondary', 'New chat');
  const account = createElement('span', 'account');
  toolbar.append(labelFor(modelSelect, 'Model', 'toolbar-label'), modelSelect, newChatButton, account);

  const conversation = createElement('div', 'conversation');
  conversation.setAttribute('role', 'log');
  conversation.setAttribute('aria-live', 'polite');
  conversation.setAttribute('aria-label', 'Conversation');
  // Focusable so keyboard users can scroll a long conversation.
  conversation.tabIndex = 0;
  const emptyHint = createElement(
    'p',
    'empty-hint',
    'Ask anything about your code. Tick “Include selection” or “Include current file” to give the model context.',
  );

  const composer = createElement('form', 'composer');
  const prompt = createElement('textarea', 'prompt');
  prompt.id = 'prompt';
  prompt.rows = 3;
  prompt.placeholder = 'Ask a question (Enter to send, Shift+Enter for a new line)';
  const includeSelection = createCheckbox('include-selection');
  const includeFile = createCheckbox('include-file');
  const options = createElement('div', 'composer-options');
  options.append(labelled(includeSelection, 'Include selection'), labelled(includeFile, 'Include current file'));
  const sendButton = createButton('submit', 'primary', 'Send');
  const stopButton = createButton('button', 'secondary', 'Stop');
  stopButton.hidden = true;
  const actions = createElement('div', 'composer-actions');
  actions.append(options, sendButton, stopButton);
  composer.append(labelFor(prompt, 'Message', 'visually-hidden'), prompt, actions);

  signedIn.append(toolbar, conversation, composer);
  const notice = createElement('p', 'notice');
  notice.setAttribute('role', 'status');
  notice.hidden = true;
  signedOut.hidden = true;
  signedIn.hidden = true;
  container.append(loading, signedOut, signedIn, notice);

  return {
    loading, signedOut, signInButton, signedIn, account, modelSelect, newChatButton, conversation, emptyHint,
    composer, prompt, includeSelection, includeFile, sendButton, stopButton, notice,
  };
}

function createButton(type: 'button' | 'submit', className: string, text: string): HTMLButtonElement {
  const button = createElement('button', className, text);
  button.type = type;
  return button;
}

function createCheckbox(id: string): HTMLInputElement {
  const input = createElement('input', '');
  input.type = 'checkbox';
  input.id = id;
  return input;
}

function labelFor(control: HTMLElement, text: string, className: string): HTMLLabelElement {
  const label = createElement('label', className, text);
  label.htmlFor = control.id;
  return label;
}

function labelled(input: HTMLInputElement, text: string): HTMLLabelElement {
  const label = createElement('label', 'checkbox');
  label.append(input, ` ${text}`);
  return label;
}

export function readDraft(ui: Layout): DraftState {
  return {
    draft: ui.prompt.value,
    includeSelection: ui.includeSelection.checked,
    includeFile: ui.includeFile.checked,
  };
}

/** Restores what `readDraft` saved; the saved value comes from an older page and is checked, not trusted. */
export function restoreDraft(ui: Layout, saved: unknown): void {
  if (typeof saved !== 'object' || saved === null) return;
  const draft: Partial<Record<keyof DraftState, unknown>> = saved;
  if (typeof draft.draft === 'string') ui.prompt.value = draft.draft;
  if (typeof draft.includeSelection === 'boolean') ui.includeSelection.checked = draft.includeSelection;
  if (typeof draft.includeFile === 'boolean') ui.includeFile.checked = draft.includeFile;
}
