import type { Turn } from '../turns.js';

/**
 * The `ShortTermStore` port: a hot copy of each session's recent turns. It is only a copy: SQL
 * holds the truth, so every method may fail or miss and the caller falls back to SQL.
 */
export interface ShortTermStore {
  readonly kind: 'redis' | 'none';
  /**
   * Recent turns oldest first and the newest seq the copy reflects, or undefined when the store
   * does not hold this session.
   */
  recent(tenantId: string, sessionId: string): Promise<{ turns: Turn[]; lastSeq: number } | undefined>;
  /** Replaces the copy with turns read from SQL (`lastSeq` = the session's newest seq). */
  fill(tenantId: string, sessionId: string, turns: Turn[], lastSeq: number): Promise<void>;
  /** Appends turns just written to SQL; drops the copy if it would not be contiguous. */
  append(tenantId: string, sessionId: string, turns: Turn[]): Promise<void>;
  drop(tenantId: string, sessionId: string): Promise<void>;
  /**
   * Drops every session's copy (of one tenant, or all) in batches; `onBatch` hears the running
   * count. Returns the keys removed. Readers refill from SQL on their next miss.
   */
  dropAll(opts?: { tenantId?: string | undefined; onBatch?: (dropped: number) => void }): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The SQL-only mode: no hot copy; every read goes to SQL. */
export const noShortTermStore: ShortTermStore = {
  kind: 'none',
  recent: async () => undefined,
  fill: async () => {},
  append: async () => {},
  drop: async () => {},
  dropAll: async () => 0,
  ping: async () => {},
  close: async () => {},
};
