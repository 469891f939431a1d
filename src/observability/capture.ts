import type { Config } from '../config/schema.js';
import { createRedactor, maskMessage, PII_TYPES } from '../governance/pii/index.js';
import type { Logger } from './logger.js';
import type { ChatMessage } from '../providers/types.js';
import type { Sql } from '../store/sql.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Request capture for the tenants that asked for it: what was sent upstream and the answer, every
 * built-in PII type (and the configured custom patterns) masked before anything is written, whatever
 * the redaction policy of the upstream path is. Written off the request path; a failed write is logged.
 */
export function createCapture(deps: { sql: Sql; config: Config; log: Logger }) {
  const { tenants, retentionDays } = deps.config.observability.capture;
  const all = tenants.includes('*');
  const listed = new Set(tenants);
  const masker = createRedactor({ modes: Object.fromEntries(PII_TYPES.filter((t) => t !== 'custom').map((t) => [t, 'mask'])), custom: deps.config.pii.custom });

  return {
    enabled: (tenantId: string): boolean => all || listed.has(tenantId),

    record(tenantId: string, requestId: string, messages: readonly ChatMessage[], answer: string | null): void {
      const masked = messages.map((m) => maskMessage(masker, m));
      deps.sql
        .query('INSERT INTO request_captures (tenant_id, request_id, messages, answer) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          tenantId,
          requestId,
          JSON.stringify(masked),
          answer === null ? null : masker.mask(answer),
        ])
        .catch((err: unknown) => deps.log.warn({ err: (err as Error).message }, 'request capture not written'));
    },

    /** Deletes captures past their retention. */
    async sweep(): Promise<void> {
      await deps.sql.query('DELETE FROM request_captures WHERE created_at < $1::timestamptz', [new Date(Date.now() - retentionDays * DAY_MS).toISOString()]);
    },
  };
}

export type Capture = ReturnType<typeof createCapture>;
