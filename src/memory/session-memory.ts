import { type Logger, throttledWarn } from '../observability/logger.js';
import type { ShortTermStore } from './short-term/port.js';
import type { Transcript } from './transcript.js';
import type { NewTurn, Turn } from './turns.js';

/**
 * A session's memory as the chat path sees it: recent turns from the hot store, rebuilt from SQL
 * on a miss; appends go to SQL first (the truth, awaited) and then to the hot store (best effort).
 *
 * The hot copy is used only when its newest seq equals the session's `last_seq` in SQL, read in
 * parallel (a primary-key lookup). That one check covers every way a copy goes stale — an append
 * that failed while Redis was away, a Redis restart or flush, another gateway's write, a deleted
 * session — so a Redis outage costs latency, never a turn.
 */
/** How far behind SQL the process's copy of a session may be and still be caught up by reading the difference. */
const CATCH_UP_TURNS = 16;

export function createSessionMemory(deps: {
  transcript: Transcript;
  hot: ShortTermStore;
  hotTurns: number;
  /** Sessions whose recent turns this process keeps in memory too (0: none). */
  localSessions?: number;
  log: Logger;
  onAppend?: (() => void) | undefined;
}) {
  const { transcript, hot, hotTurns, log } = deps;
  // The process's own copy of its busiest sessions, checked against SQL like the Redis copy: a hit
  // costs only the last_seq read, with no Redis round trip and no parsing of the turns.
  const local = createLocalCopies(deps.localSessions ?? 0, hotTurns);
  const unavailable = throttledWarn(log, 'short-term store unavailable; using SQL');
  const warn = (op: string, err: unknown): void => unavailable({ op, err: (err as Error).message, store: hot.kind });

  return {
    async recent(tenantId: string, sessionId: string): Promise<Turn[]> {
      const mine = local.get(tenantId, sessionId);
      // SQL's last_seq, once read: a stale copy of ours falls through to the hot copy with it, not a second read.
      let known: number | undefined;
      if (mine) {
        const lastSeq = await transcript.lastSeq(tenantId, sessionId);
        known = lastSeq;
        if (mine.lastSeq === lastSeq) return mine.turns;
        // Behind by a few turns — a concurrent request's append committed but not yet added here, or
        // another gateway's — read just those; anything else (a deleted or re-imported session) starts over.
        if (mine.lastSeq < lastSeq && lastSeq - mine.lastSeq <= CATCH_UP_TURNS) {
          const missing = await transcript.page(tenantId, sessionId, { afterSeq: mine.lastSeq, limit: lastSeq - mine.lastSeq });
          const caught = missing.length === lastSeq - mine.lastSeq ? local.append(tenantId, sessionId, missing) : undefined;
          if (caught) return caught;
        }
        local.drop(tenantId, sessionId);
      }
      let hotFailed = false;
      const [cached, lastSeq] = await Promise.all([
        hot.recent(tenantId, sessionId).catch((err: unknown) => {
          hotFailed = true;
          warn('recent', err);
          return undefined;
        }),
        known ?? transcript.lastSeq(tenantId, sessionId),
      ]);
      if (cached && cached.lastSeq === lastSeq) {
        local.set(tenantId, sessionId, cached.turns, lastSeq);
        return cached.turns;
      }
      const turns = lastSeq === 0 ? [] : await transcript.recent(tenantId, sessionId, hotTurns);
      if (!hotFailed) hot.fill(tenantId, sessionId, turns, lastSeq).catch((err: unknown) => warn('fill', err));
      local.set(tenantId, sessionId, turns, lastSeq);
      return turns;
    },

    async append(tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]): Promise<Turn[]> {
      const stored = await transcript.append(tenantId, sessionId, userId, turns);
      // Not awaited: the turn is durable in SQL already, and commands on the one Redis connection run
      // in order, so this process's next read of the session sees the append.
      hot.append(tenantId, sessionId, stored).catch((err: unknown) => warn('append', err));
      local.append(tenantId, sessionId, stored);
      deps.onAppend?.();
      return stored;
    },

    /** Forgets the hot copy (after an import or deletion changed the transcript under it). */
    async invalidate(tenantId: string, sessionId: string): Promise<void> {
      local.drop(tenantId, sessionId);
      await hot.drop(tenantId, sessionId).catch((err: unknown) => warn('drop', err));
    },
  };
}

export type SessionMemory = ReturnType<typeof createSessionMemory>;

/**
 * An LRU of sessions' recent turns in this process. Arrays handed out are never mutated (an append
 * makes a new one), so a request still reading the previous copy is unaffected.
 */
function createLocalCopies(maxSessions: number, maxTurns: number) {
  const copies = new Map<string, { turns: Turn[]; lastSeq: number }>();
  const key = (tenantId: string, sessionId: string) => `${tenantId}\u0000${sessionId}`;
  const set = (k: string, turns: Turn[], lastSeq: number): Turn[] => {
    const kept = turns.length > maxTurns ? turns.slice(-maxTurns) : turns;
    copies.delete(k);
    copies.set(k, { turns: kept, lastSeq });
    if (copies.size > maxSessions) copies.delete(copies.keys().next().value as string);
    return kept;
  };
  return {
    get(tenantId: string, sessionId: string) {
      if (maxSessions === 0) return undefined;
      const k = key(tenantId, sessionId);
      const c = copies.get(k);
      if (c) {
        copies.delete(k);
        copies.set(k, c);
      }
      return c;
    },
    set(tenantId: string, sessionId: string, turns: Turn[], lastSeq: number) {
      if (maxSessions > 0) set(key(tenantId, sessionId), turns, lastSeq);
    },
    /**
     * Extends a copy with turns just stored, when they follow it (turns it holds already change
     * nothing); otherwise forgets it. Returns the extended turns, if it was.
     */
    append(tenantId: string, sessionId: string, stored: Turn[]): Turn[] | undefined {
      const k = key(tenantId, sessionId);
      const c = copies.get(k);
      const first = stored[0];
      const last = stored[stored.length - 1];
      if (!c || !first || !last) return undefined;
      if (last.seq <= c.lastSeq && first.seq > c.lastSeq - c.turns.length) return c.turns;
      if (first.seq !== c.lastSeq + 1) {
        copies.delete(k);
        return undefined;
      }
      // The window's newest maxTurns of copy + stored, copied once into an array of their size.
      const total = c.turns.length + stored.length;
      const skip = Math.max(0, total - maxTurns);
      const turns: Turn[] = new Array(total - skip);
      let at = 0;
      for (let i = skip; i < c.turns.length; i++) turns[at++] = c.turns[i] as Turn;
      for (let i = Math.max(0, skip - c.turns.length); i < stored.length; i++) turns[at++] = stored[i] as Turn;
      return set(k, turns, last.seq);
    },
    drop(tenantId: string, sessionId: string) {
      copies.delete(key(tenantId, sessionId));
    },
  };
}
