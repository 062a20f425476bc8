/** One server-sent event: its bytes exactly as received (separator included) and its joined `data:` lines. */
export interface SseEvent {
  bytes: Buffer;
  data: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into complete SSE events, working on the bytes so they are relayed untouched and only
 * each event's text is decoded. An event ends at a blank line (`\n\n` or `\n\r\n`); line feeds never occur
 * inside a multi-byte UTF-8 character, so a character split across network chunks is never cut. An
 * incomplete trailing event waits for the next chunk.
 */
export class SseSplitter {
  /**
   * An incomplete event: `pending[0, length)`. It grows by doubling and only new bytes are searched, so an
   * event of many chunks costs time linear in its size (joining and rescanning it per chunk took 2 s for one
   * of 16 MB). Bytes already handed out as events are never written over: they may still be queued on a socket.
   */
  private pending = Buffer.alloc(0);
  private length = 0;

  push(chunk: Buffer): SseEvent[] {
    let buf = chunk;
    let size = chunk.length;
    let from = 0;
    if (this.length > 0) {
      if (this.length + chunk.length > this.pending.length) {
        const grown = Buffer.allocUnsafe(Math.max(this.length + chunk.length, 2 * this.pending.length));
        this.pending.copy(grown, 0, 0, this.length);
        this.pending = grown;
      }
      chunk.copy(this.pending, this.length);
      // A line feed in the last two bytes could not be told apart from an event's end until now.
      from = Math.max(0, this.length - 2);
      buf = this.pending;
      size = this.length + chunk.length;
    }
    const events: SseEvent[] = [];
    let start = 0;
    for (let lf = buf.indexOf(LF, from); lf !== -1 && lf + 1 < size; lf = buf.indexOf(LF, lf + 1)) {
      const next = buf[lf + 1];
      const end = next === LF ? lf + 2 : next === CR && lf + 2 < size && buf[lf + 2] === LF ? lf + 3 : -1;
      if (end === -1) continue;
      const blockEnd = buf[lf - 1] === CR && lf > start ? lf - 1 : lf;
      events.push({ bytes: buf.subarray(start, end), data: dataOf(buf.toString('utf8', start, blockEnd)) });
      start = end;
      lf = end - 1;
    }
    if (start === size) {
      this.pending = Buffer.alloc(0);
      this.length = 0;
    } else if (start > 0 || buf === chunk) {
      // Copied: a view would keep the whole network read it came from alive until the event completes.
      this.pending = Buffer.from(buf.subarray(start, size));
      this.length = size - start;
    } else {
      this.length = size;
    }
    return events;
  }

  /** Bytes waiting for the end of their event. */
  pendingLength(): number {
    return this.length;
  }

  /** What is left over when the stream ends: an event the upstream never finished. */
  rest(): string {
    return this.pending.toString('utf8', 0, this.length);
  }
}

/** A body may open with a byte-order mark (TextDecoder used to drop it). */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function dataOf(text: string): string {
  const block = withoutBom(text);
  // The common case, one `data:` line, without splitting.
  if (block.startsWith('data:') && !block.includes('\n')) return block.slice(block.charCodeAt(5) === 32 ? 6 : 5);
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
