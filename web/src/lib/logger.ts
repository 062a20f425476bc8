import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON line per event. Redaction is a second line of defence: no code path should hand a secret to the
 * logger in the first place.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.apiKey', '*.secret', '*.upstreamKey'],
      censor: '[redacted]',
    },
  });
}
