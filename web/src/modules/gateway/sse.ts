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
  private pending: Buffer | null = null;

  push(chunk: Buffer): SseEvent[] {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const events: SseEvent[] = [];
    let start = 0;
    for (let lf = buf.indexOf(LF); lf !== -1 && lf + 1 < buf.length; lf = buf.indexOf(LF, lf + 1)) {
      const next = buf[lf + 1];
      const end = next === LF ? lf + 2 : next === CR && buf[lf + 2] === LF ? lf + 3 : -1;
      if (end === -1) continue;
      const blockEnd = buf[lf - 1] === CR && lf > start ? lf - 1 : lf;
      events.push({ bytes: buf.subarray(start, end), data: dataOf(buf.toString('utf8', start, blockEnd)) });
      start = end;
      lf = end - 1;
    }
    // Copied: a view would keep the whole network read it came from alive until the event completes.
    this.pending = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    return events;
  }

  /** Bytes waiting for the end of their event. */
  pendingLength(): number {
    return this.pending?.length ?? 0;
  }

  /** What is left over when the stream ends: an event the upstream never finished. */
  rest(): string {
    return this.pending?.toString('utf8') ?? '';
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
