import { customAlphabet } from 'nanoid';

const alphanumeric = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 20);

export type IdPrefix = 'usr' | 'req' | 'ins';

/** Prefixed ids, so any log line or row says what it refers to. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${alphanumeric()}`;
}

export function utcDay(at: Date = new Date()): string {
  return at.toISOString().slice(0, 10);
}
