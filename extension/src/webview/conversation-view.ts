import { createMessageElement, refreshCountdowns, updateMessageElement } from './message-view';
import { type ChatMessage } from './protocol';

/** How close to the end (px) still counts as "reading the latest", so a growing answer is followed. */
const FOLLOW_THRESHOLD_PX = 48;

/**
 * The message list on screen: one element per message, keyed by id, so a streaming answer updates its own
 * element instead of redrawing the conversation. It holds no conversation state of its own; `isLive` says
 * which message is streaming.
 */
export class ConversationView {
  private readonly elements = new Map<string, HTMLElement>();
  private countdownTimer: number | undefined;

  constructor(
    private readonly list: HTMLElement,
    private readonly emptyHint: HTMLElement,
    private readonly isLive: (message: ChatMessage) => boolean,
  ) {}

  showAll(messages: readonly ChatMessage[]): void {
    this.elements.clear();
    this.list.replaceChildren(this.emptyHint);
    for (const message of messages) this.appendElement(message);
    this.emptyHint.hidden = messages.length > 0;
    this.scrollToEnd();
    this.startCountdowns();
  }

  append(message: ChatMessage): void {
    this.appendElement(message);
    this.emptyHint.hidden = true;
    this.scrollToEnd();
  }

  remove(id: string): void {
    this.elements.get(id)?.remove();
    this.elements.delete(id);
  }

  /** The host names an answer only once it starts; its placeholder element carries on under the new id. */
  rename(fromId: string, toId: string): void {
    const element = this.elements.get(fromId);
    if (element === undefined) return;
    this.elements.delete(fromId);
    this.elements.set(toId, element);
  }

  update(message: ChatMessage): void {
    const element = this.elements.get(message.id);
    if (element === undefined) return;
    // Follow a growing answer only when the user was already at the end, so reading back is never yanked away.
    const atEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < FOLLOW_THRESHOLD_PX;
    updateMessageElement(element, message, this.isLive(message));
    if (atEnd) this.scrollToEnd();
    this.startCountdowns();
  }

  private appendElement(message: ChatMessage): void {
    const element = createMessageElement(message);
    this.elements.set(message.id, element);
    this.list.append(element);
    updateMessageElement(element, message, this.isLive(message));
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** One shared one-second tick for every rate-limit countdown on screen, stopped when none is left. */
  private startCountdowns(): void {
    if (this.countdownTimer !== undefined || !refreshCountdowns(this.list)) return;
    this.countdownTimer = window.setInterval(() => {
      if (refreshCountdowns(this.list)) return;
      window.clearInterval(this.countdownTimer);
      this.countdownTimer = undefined;
    }, 1000);
  }
}
