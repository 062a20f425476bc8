import type { Logger } from '../../lib/logger';
import { fail, type GatewayFailure } from './errors';

export type ModelResolution = { ok: true; upstreamModel: string } | { ok: false; failure: GatewayFailure };

export interface ModelCatalog {
  resolve(requested: string): Promise<ModelResolution>;
  list(): Promise<string[]>;
}

const DISCOVERY_TTL_MS = 10 * 60 * 1000;

/**
 * Which models clients may ask for. With `MODELS` configured, exactly those ids and aliases; without it, the
 * upstream's own `/models`, re-read every few minutes. When neither is known, ids pass through and the
 * upstream decides (its "unknown model" is mapped to 404 like ours).
 */
export function createModelCatalog(configured: Map<string, string>, discover: () => Promise<string[]>, log: Logger): ModelCatalog {
  let discovered: { ids: Set<string>; at: number } | null = null;
  let pending: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    if (discovered && Date.now() - discovered.at < DISCOVERY_TTL_MS) return;
    pending ??= discover()
      .then((ids) => {
        discovered = { ids: new Set(ids), at: Date.now() };
      })
      .catch((err: unknown) => {
        log.warn({ err: String(err) }, 'model discovery failed; passing model ids through');
        discovered = { ids: new Set(), at: Date.now() };
      })
      .finally(() => {
        pending = null;
      });
    await pending;
  }

  const unknown = (id: string) => fail('model_not_found', `The model "${id}" does not exist or is not offered by this gateway.`);

  return {
    async resolve(requested) {
      if (configured.size > 0) {
        const target = configured.get(requested);
        return target ? { ok: true, upstreamModel: target } : { ok: false, failure: unknown(requested) };
      }
      await refresh();
      const ids = discovered?.ids;
      if (ids && ids.size > 0 && !ids.has(requested)) return { ok: false, failure: unknown(requested) };
      return { ok: true, upstreamModel: requested };
    },
    async list() {
      if (configured.size > 0) return [...configured.keys()];
      await refresh();
      return [...(discovered?.ids ?? [])];
    },
  };
}
