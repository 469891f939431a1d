import type { SessionSummary } from '../../context/types.js';
import type { Sql } from '../../store/sql.js';
import type { Encoding } from '../../tokens/models.js';

/** A summary version as stored, with how it was made. */
export interface StoredSummary extends SessionSummary {
  tokens: number;
  method: 'llm' | 'extractive';
  model: string | null;
  createdAt: string;
}

export interface NewSummary {
  version: number;
  fromSeq: number;
  toSeq: number;
  text: string;
  tokens: number;
  encoding: Encoding;
  method: StoredSummary['method'];
  model: string | null;
}

interface Row {
  version: number;
  from_seq: number;
  to_seq: number;
  text: string;
  token_count: number;
  method: StoredSummary['method'];
  model: string | null;
  created_at: Date | string;
}

const COLUMNS = 'version, from_seq, to_seq, text, token_count, method, model, created_at';

const fromRow = (r: Row): StoredSummary => ({
  version: r.version,
  fromSeq: r.from_seq,
  toSeq: r.to_seq,
  text: r.text,
  tokens: r.token_count,
  method: r.method,
  model: r.model,
  createdAt: new Date(r.created_at).toISOString(),
});

/** Session summaries in SQL, always within a tenant. */
export function createSummaryStore(sql: Sql) {
  return {
    async newest(tenantId: string, sessionId: string): Promise<StoredSummary | undefined> {
      const { rows } = await sql.query<Row>(`SELECT ${COLUMNS} FROM session_summaries WHERE tenant_id = $1 AND session_id = $2 ORDER BY version DESC LIMIT 1`, [tenantId, sessionId], {
        prepare: 'summary_newest',
      });
      return rows[0] ? fromRow(rows[0]) : undefined;
    },

    /** Every version, newest first. */
    async list(tenantId: string, sessionId: string): Promise<StoredSummary[]> {
      const { rows } = await sql.query<Row>(`SELECT ${COLUMNS} FROM session_summaries WHERE tenant_id = $1 AND session_id = $2 ORDER BY version DESC`, [tenantId, sessionId]);
      return rows.map(fromRow);
    },

    /**
     * Stores a new version and moves the session's summarised mark, in one transaction. False when
     * that version exists already (another worker made it first): the caller's work is dropped. The
     * tail counter loses exactly the folded tokens, so appends racing with it are still counted.
     */
    async save(tenantId: string, sessionId: string, s: NewSummary, foldedTokens: number): Promise<boolean> {
      return sql.transaction(async (tx) => {
        const { rowCount } = await tx.query(
          `INSERT INTO session_summaries (tenant_id, session_id, version, from_seq, to_seq, text, token_count, token_encoding, method, model)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
          [tenantId, sessionId, s.version, s.fromSeq, s.toSeq, s.text, s.tokens, s.encoding, s.method, s.model],
        );
        if (rowCount === 0) return false;
        await tx.query('UPDATE sessions SET summarized_seq = $3, tail_tokens = GREATEST(0, tail_tokens - $4) WHERE tenant_id = $1 AND id = $2', [
          tenantId,
          sessionId,
          s.toSeq,
          foldedTokens,
        ]);
        return true;
      });
    },

    /** Sessions whose unsummarised tail has reached `triggerTokens` (for the sweep), at most `limit`. */
    async overTrigger(triggerTokens: number, limit: number): Promise<Array<{ tenantId: string; sessionId: string }>> {
      const { rows } = await sql.query<{ tenant_id: string; id: string }>('SELECT tenant_id, id FROM sessions WHERE tail_tokens >= $1 ORDER BY updated_at LIMIT $2', [
        triggerTokens,
        limit,
      ]);
      return rows.map((r) => ({ tenantId: r.tenant_id, sessionId: r.id }));
    },
  };
}

export type SummaryStore = ReturnType<typeof createSummaryStore>;
