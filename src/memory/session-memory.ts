import type { Logger } from 'pino';
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
export function createSessionMemory(deps: { transcript: Transcript; hot: ShortTermStore; hotTurns: number; log: Logger; onAppend?: (() => void) | undefined }) {
  const { transcript, hot, hotTurns, log } = deps;
  let lastWarn = 0;
  // One warning per 10 s is enough to see an outage without flooding the log at full traffic.
  const warn = (op: string, err: unknown): void => {
    const now = Date.now();
    if (now - lastWarn < 10_000) return;
    lastWarn = now;
    log.warn({ op, err: (err as Error).message, store: hot.kind }, 'short-term store unavailable; using SQL');
  };

  return {
    async recent(tenantId: string, sessionId: string): Promise<Turn[]> {
      let hotFailed = false;
      const [cached, lastSeq] = await Promise.all([
        hot.recent(tenantId, sessionId).catch((err: unknown) => {
          hotFailed = true;
          warn('recent', err);
          return undefined;
        }),
        transcript.lastSeq(tenantId, sessionId),
      ]);
      if (cached && cached.lastSeq === lastSeq) return cached.turns;
      const turns = lastSeq === 0 ? [] : await transcript.recent(tenantId, sessionId, hotTurns);
      if (!hotFailed) hot.fill(tenantId, sessionId, turns, lastSeq).catch((err: unknown) => warn('fill', err));
      return turns;
    },

    async append(tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]): Promise<Turn[]> {
      const stored = await transcript.append(tenantId, sessionId, userId, turns);
      // Not awaited: the turn is durable in SQL already, and commands on the one Redis connection run
      // in order, so this process's next read of the session sees the append.
      hot.append(tenantId, sessionId, stored).catch((err: unknown) => warn('append', err));
      deps.onAppend?.();
      return stored;
    },

    /** Forgets the hot copy (after an import or deletion changed the transcript under it). */
    async invalidate(tenantId: string, sessionId: string): Promise<void> {
      await hot.drop(tenantId, sessionId).catch((err: unknown) => warn('drop', err));
    },
  };
}

export type SessionMemory = ReturnType<typeof createSessionMemory>;
