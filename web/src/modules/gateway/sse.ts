/** One server-sent event: its text exactly as received (with separator) and its joined `data:` lines. */
export interface SseEvent {
  raw: string;
  data: string;
}

const BOUNDARY = /\r?\n\r?\n/g;

/**
 * Splits a byte stream into complete SSE events. Bytes are decoded in streaming mode so a multi-byte
 * character split across network chunks survives; an incomplete trailing event waits for the next chunk.
 */
export class SseSplitter {
  private readonly decoder = new TextDecoder();
  private pending = '';

  push(chunk: Uint8Array): SseEvent[] {
    this.pending += this.decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    let start = 0;
    BOUNDARY.lastIndex = 0;
    for (let m = BOUNDARY.exec(this.pending); m; m = BOUNDARY.exec(this.pending)) {
      const end = m.index + m[0].length;
      const block = this.pending.slice(start, m.index);
      events.push({ raw: this.pending.slice(start, end), data: dataOf(block) });
      start = end;
    }
    this.pending = this.pending.slice(start);
    return events;
  }

  /** Characters waiting for the end of their event. */
  pendingLength(): number {
    return this.pending.length;
  }

  /** What is left over when the stream ends: an event the upstream never finished. */
  rest(): string {
    return this.pending + this.decoder.decode();
  }
}

function dataOf(block: string): string {
  let data = '';
  let first = true;
  for (const line of block.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = first ? value : `${data}\n${value}`;
    first = false;
  }
  return data;
}
