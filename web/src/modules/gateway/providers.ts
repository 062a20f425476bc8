/**
 * What differs between upstreams is data, not code: how usage arrives in a stream.
 * - `glm`: usage rides on the chunk that carries `finish_reason`; nothing to ask for.
 * - `openai`: usage comes on a final chunk with empty `choices`, only when `stream_options.include_usage`
 *   is set; the gateway sets it and hides that chunk from clients that did not ask for it.
 */
export interface Provider {
  name: string;
  requestStreamUsage: boolean;
}

export const providers = {
  glm: { name: 'glm', requestStreamUsage: false },
  openai: { name: 'openai', requestStreamUsage: true },
} as const satisfies Record<string, Provider>;

export type ProviderName = keyof typeof providers;

/** Fields a caller might use to steer us to another upstream or credential; never forwarded. */
export const CALLER_CONTROLLED_UPSTREAM_FIELDS: ReadonlySet<string> = new Set(['api_key', 'api_base', 'base_url', 'api_version', 'organization', 'user_api_key']);
