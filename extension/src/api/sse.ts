/**
 * Reads a `text/event-stream` body and yields each event's data as it completes. Bytes are decoded in
 * streaming mode so a character split across network chunks survives.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let boundary = /\r?\n\r?\n/.exec(pending);
      while (boundary) {
        const block = pending.slice(0, boundary.index);
        pending = pending.slice(boundary.index + boundary[0].length);
        const data = block
          .split(/\r?\n/)
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(line.charCodeAt(5) === 32 ? 6 : 5))
          .join('\n');
        if (data) yield data;
        boundary = /\r?\n\r?\n/.exec(pending);
      }
    }
  } finally {
    reader.releaseLock();
  }
}
