import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs (pino) written asynchronously so logging never blocks a request. Lines carry
 * ids, sizes, timings and codes — never prompts, bodies or upstream headers (shared/STYLE.md §9).
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['authorization', '*.authorization', 'apiKey', '*.apiKey'], censor: '[redacted]' },
    },
    pino.destination({ sync: false }),
  );
}

export type { Logger };
