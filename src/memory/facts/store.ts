import { notFound } from '../../errors.js';
import type { Sql, SqlExecutor } from '../../store/sql.js';
import { newId } from '../../tenancy/ids.js';

export type MemoryCategory = 'preference' | 'plan' | 'person' | 'event' | 'fact';
export const MEMORY_CATEGORIES: readonly MemoryCategory[] = ['preference', 'plan', 'person', 'event', 'fact'];

export interface SourceTurn {
  session_id: string;
  seq: number;
}

/** One fact about a user, as the memory API shows it. */
export interface Memory {
  id: string;
  user_id: string;
  session_id: string | null;
  text: string;
  category: MemoryCategory;
  event_at: string | null;
  source: 'extracted' | 'api';
  source_turns: SourceTurn[];
  metadata: Record<string, unknown>;
  valid_from: string;
  valid_to: string | null;
  superseded_by: string | null;
  created_at: string;
  updated_at: string;
}

export type MemoryEventKind = 'add' | 'update' | 'invalidate' | 'delete' | 'restate';

export interface MemoryEvent {
  id: string;
  memory_id: string;
  event: MemoryEventKind;
  text: string | null;
  previous_text: string | null;
  related_id: string | null;
  source_turns: SourceTurn[];
  actor: 'extractor' | 'api';
  at: string;
}

export interface NewMemory {
  userId: string;
  sessionId?: string | null;
  text: string;
  category?: MemoryCategory;
  eventAt?: string | null;
  source: Memory['source'];
  sourceTurns?: SourceTurn[];
  metadata?: Record<string, unknown>;
  /** The memory this one replaces (invalidated beside it): both histories show the link. */
  replaces?: string | null;
}

export interface MemoryChange {
  text?: string;
  category?: MemoryCategory;
  eventAt?: string | null;
  metadata?: Record<string, unknown>;
}

const COLUMNS = 'id, user_id, session_id, text, category, event_at, source, source_turns, metadata, valid_from, valid_to, superseded_by, created_at, updated_at';

type Row = Omit<Memory, 'event_at' | 'valid_from' | 'valid_to' | 'created_at' | 'updated_at'> & Record<'event_at' | 'valid_to', Date | string | null> & Record<'valid_from' | 'created_at' | 'updated_at', Date | string>;

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const fromRow = (r: Row): Memory => ({
  ...r,
  event_at: iso(r.event_at),
  valid_from: iso(r.valid_from) as string,
  valid_to: iso(r.valid_to),
  created_at: iso(r.created_at) as string,
  updated_at: iso(r.updated_at) as string,
});

/**
 * Fact memories in SQL, always within a tenant, with every change recorded as an event. Each write
 * takes an executor, so the extractor can apply a batch of changes and advance its watermark in one
 * transaction. Vectors are the caller's business (written after the commit).
 */
export function createMemoryStore(sql: Sql) {
  async function event(db: SqlExecutor, tenantId: string, e: { memoryId: string; userId: string; event: MemoryEventKind; text?: string | null; previousText?: string | null; relatedId?: string | null; sourceTurns?: SourceTurn[]; actor: MemoryEvent['actor'] }) {
    await db.query(
      `INSERT INTO memory_events (tenant_id, memory_id, user_id, event, text, previous_text, related_id, source_turns, actor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [tenantId, e.memoryId, e.userId, e.event, e.text ?? null, e.previousText ?? null, e.relatedId ?? null, JSON.stringify(e.sourceTurns ?? []), e.actor],
    );
  }

  async function getIn(db: SqlExecutor, tenantId: string, id: string): Promise<Memory | undefined> {
    const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM memories WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  const actorOf = (m: NewMemory | { source: Memory['source'] }): MemoryEvent['actor'] => (m.source === 'api' ? 'api' : 'extractor');

  return {
    sql,

    async get(tenantId: string, id: string): Promise<Memory | undefined> {
      return getIn(sql, tenantId, id);
    },

    async getMany(tenantId: string, ids: readonly string[]): Promise<Memory[]> {
      if (ids.length === 0) return [];
      const { rows } = await sql.query<Row>(`SELECT ${COLUMNS} FROM memories WHERE tenant_id = $1 AND id = ANY($2::text[])`, [tenantId, ids]);
      return rows.map(fromRow);
    },

    /** A user's memories, newest first: current ones only unless `includeInvalid`. */
    async list(tenantId: string, userId: string, opts: { includeInvalid: boolean; limit: number; before?: string; sessionId?: string }): Promise<Memory[]> {
      const { rows } = await sql.query<Row>(
        `SELECT ${COLUMNS} FROM memories WHERE tenant_id = $1 AND user_id = $2 ${opts.includeInvalid ? '' : 'AND valid_to IS NULL'}
         AND ($5::text IS NULL OR session_id = $5)
         AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM memories WHERE tenant_id = $1 AND id = $4))
         ORDER BY created_at DESC, id DESC LIMIT $3`,
        [tenantId, userId, opts.limit, opts.before ?? null, opts.sessionId ?? null],
      );
      return rows.map(fromRow);
    },

    async add(db: SqlExecutor, tenantId: string, m: NewMemory): Promise<Memory> {
      const id = newId('mem');
      const { rows } = await db.query<Row>(
        `INSERT INTO memories (tenant_id, id, user_id, session_id, text, category, event_at, source, source_turns, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [tenantId, id, m.userId, m.sessionId ?? null, m.text, m.category ?? 'fact', m.eventAt ?? null, m.source, JSON.stringify(m.sourceTurns ?? []), JSON.stringify(m.metadata ?? {})],
      );
      await event(db, tenantId, { memoryId: id, userId: m.userId, event: 'add', text: m.text, relatedId: m.replaces, sourceTurns: m.sourceTurns, actor: actorOf(m) });
      return fromRow(rows[0] as Row);
    },

    /** Changes a current memory in place (a refinement or a correction); the old text stays in its history. */
    /**
     * Changes a memory and records the change. The row is read locked, so `check` (which may throw to
     * refuse the change, e.g. for a memory no longer current) sees the state the update applies to.
     */
    async update(
      db: SqlExecutor,
      tenantId: string,
      id: string,
      change: MemoryChange,
      by: { actor: MemoryEvent['actor']; sourceTurns?: SourceTurn[] },
      check?: (before: Memory) => void,
    ): Promise<Memory> {
      const { rows: found } = await db.query<Row>(`SELECT ${COLUMNS} FROM memories WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, id]);
      const before = found[0] ? fromRow(found[0]) : undefined;
      if (!before) throw notFound(`No memory with id ${id}.`, 'memory_not_found');
      check?.(before);
      const { rows } = await db.query<Row>(
        `UPDATE memories SET text = coalesce($3, text), category = coalesce($4, category),
                event_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE event_at END,
                metadata = coalesce($7::jsonb, metadata), source_turns = source_turns || $8::jsonb, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
        [
          tenantId,
          id,
          change.text ?? null,
          change.category ?? null,
          change.eventAt !== undefined,
          change.eventAt ?? null,
          change.metadata ? JSON.stringify(change.metadata) : null,
          JSON.stringify(by.sourceTurns ?? []),
        ],
      );
      await event(db, tenantId, { memoryId: id, userId: before.user_id, event: 'update', text: change.text ?? before.text, previousText: before.text, sourceTurns: by.sourceTurns, actor: by.actor });
      return fromRow(rows[0] as Row);
    },

    /** Marks a memory as no longer true (kept, with `valid_to`), optionally replaced by another. */
    async invalidate(db: SqlExecutor, tenantId: string, id: string, by: { actor: MemoryEvent['actor']; supersededBy?: string | null; sourceTurns?: SourceTurn[] }): Promise<Memory | undefined> {
      const { rows } = await db.query<Row>(
        `UPDATE memories SET valid_to = now(), superseded_by = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND valid_to IS NULL RETURNING ${COLUMNS}`,
        [tenantId, id, by.supersededBy ?? null],
      );
      const m = rows[0] ? fromRow(rows[0]) : undefined;
      if (m) await event(db, tenantId, { memoryId: id, userId: m.user_id, event: 'invalidate', text: m.text, relatedId: by.supersededBy, sourceTurns: by.sourceTurns, actor: by.actor });
      return m;
    },

    /** The same fact said again: no new memory, only its sources and history grow. */
    async restate(db: SqlExecutor, tenantId: string, id: string, sourceTurns: SourceTurn[]): Promise<void> {
      const { rows } = await db.query<{ user_id: string; text: string }>(
        'UPDATE memories SET source_turns = source_turns || $3::jsonb, updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING user_id, text',
        [tenantId, id, JSON.stringify(sourceTurns)],
      );
      const r = rows[0];
      if (r) await event(db, tenantId, { memoryId: id, userId: r.user_id, event: 'restate', text: r.text, sourceTurns, actor: 'extractor' });
    },

    /** The events of a memory and of the memories it replaced or was replaced by, oldest first. */
    async history(tenantId: string, id: string): Promise<MemoryEvent[]> {
      const { rows } = await sql.query<Omit<MemoryEvent, 'at' | 'id'> & { id: string | number; at: Date | string }>(
        `SELECT id, memory_id, event, text, previous_text, related_id, source_turns, actor, at FROM memory_events
         WHERE tenant_id = $1 AND (memory_id = $2 OR related_id = $2) ORDER BY id`,
        [tenantId, id],
      );
      return rows.map((r) => ({ ...r, id: String(r.id), at: new Date(r.at).toISOString() }));
    },

    /** Deletes a memory and its history (nothing of its text is kept). Returns its user, or undefined when there was none. */
    async remove(tenantId: string, id: string): Promise<string | undefined> {
      return sql.transaction(async (tx) => {
        await tx.query('DELETE FROM memory_events WHERE tenant_id = $1 AND memory_id = $2', [tenantId, id]);
        const { rows } = await tx.query<{ user_id: string }>('DELETE FROM memories WHERE tenant_id = $1 AND id = $2 RETURNING user_id', [tenantId, id]);
        return rows[0]?.user_id;
      });
    },

    /** Forgets a user: every memory and event. Returns the ids removed (for the vector store). */
    async removeUser(tenantId: string, userId: string): Promise<string[]> {
      return sql.transaction(async (tx) => {
        await tx.query('DELETE FROM memory_events WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
        const { rows } = await tx.query<{ id: string }>('DELETE FROM memories WHERE tenant_id = $1 AND user_id = $2 RETURNING id', [tenantId, userId]);
        return rows.map((r) => r.id);
      });
    },
  };
}

export type MemoryStore = ReturnType<typeof createMemoryStore>;
