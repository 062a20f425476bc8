/** Posts a chat completion the way an OpenAI client would. */
export function chat(
  baseUrl: string,
  key: string | null,
  body: unknown,
  prefix = '/v1',
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${baseUrl}${prefix}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** Reads an SSE response to its end: each event's data, and when (ms) each network chunk arrived. */
export async function readSse(res: Response, stopAfter = Infinity): Promise<{ events: string[]; arrivals: number[]; text: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const arrivals: number[] = [];
  let text = '';
  let events: string[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    arrivals.push(performance.now());
    text += decoder.decode(value, { stream: true });
    events = parseEvents(text);
    if (events.length >= stopAfter) {
      await reader.cancel();
      break;
    }
  }
  return { events: parseEvents(text), arrivals, text };
}

export function parseEvents(text: string): string[] {
  return text
    .split(/\r?\n\r?\n/)
    .slice(0, -1)
    .map((block) => block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter((d) => d !== '');
}
