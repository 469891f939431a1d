import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Structured JSON logs (pino) written asynchronously so logging never blocks a request. Lines carry
 * ids, sizes, timings and codes — never prompts, bodies or upstream headers (shared/STYLE.md §9).
 * No `redact` option: nothing secret is ever passed to a log call, and redaction copied every line
 * (a fifth of the hot path's allocations).
 */
/** `destination`: where lines go (stdout, asynchronously, unless a test passes a stream). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/**
 * A warning logged at most once per `intervalMs`: enough to see a dependency's outage without one
 * line per request at full traffic.
 */
export function throttledWarn(log: Logger, msg: string, intervalMs = 10_000): (fields: Record<string, unknown>) => void {
  let last = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log.warn(fields, msg);
  };
}

export type { Logger };
