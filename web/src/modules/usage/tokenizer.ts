import type { Tiktoken } from 'js-tiktoken/lite';

let encoder: Promise<Tiktoken> | undefined;

/**
 * GLM's own tokenizer is not published as a library; o200k_base is the closest kept one, and counts made
 * with it are stored as estimates. Loaded on first use: most requests carry exact upstream usage.
 */
function getEncoder(): Promise<Tiktoken> {
  encoder ??= Promise.all([import('js-tiktoken/lite'), import('js-tiktoken/ranks/o200k_base')]).then(
    ([{ Tiktoken }, ranks]) => new Tiktoken(ranks.default),
  );
  return encoder;
}

export async function countTokens(texts: readonly string[]): Promise<number> {
  const enc = await getEncoder();
  let total = 0;
  for (const text of texts) if (text) total += enc.encode(text, 'all').length;
  return total;
}

/** The text a chat request's messages carry, for estimating its prompt. */
export function promptTexts(messages: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (typeof m !== 'object' || m === null) continue;
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role === 'string') out.push(role);
    if (typeof content === 'string') out.push(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') out.push(text);
      }
    }
  }
  return out;
}
