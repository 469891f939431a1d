import type { Logger } from 'pino';
import type { ShortTermStore } from './short-term/port.js';
import type { Transcript } from './transcript.js';
import type { NewTurn, Turn } from './turns.js';

/**
 * A session's memory as the chat path sees it: recent turns from the hot store, rebuilt from SQL
 * on a miss; appends go to SQL first (the truth, awaited) and then to the hot store (best effort).
 * A Redis outage costs latency, never a turn.
 */
export function createSessionMemory(deps: { transcript: Transcript; hot: ShortTermStore; hotTurns: number; log: Logger }) {
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
      try {
        const cached = await hot.recent(tenantId, sessionId);
        if (cached) return cached;
      } catch (err) {
        warn('recent', err);
        return transcript.recent(tenantId, sessionId, hotTurns);
      }
      const turns = await transcript.recent(tenantId, sessionId, hotTurns);
      const lastSeq = turns.length > 0 ? (turns[turns.length - 1] as Turn).seq : 0;
      hot.fill(tenantId, sessionId, turns, lastSeq).catch((err: unknown) => warn('fill', err));
      return turns;
    },

    async append(tenantId: string, sessionId: string, userId: string | null, turns: NewTurn[]): Promise<Turn[]> {
      const stored = await transcript.append(tenantId, sessionId, userId, turns);
      await hot.append(tenantId, sessionId, stored).catch((err: unknown) => warn('append', err));
      return stored;
    },

    /** Forgets the hot copy (after an import or deletion changed the transcript under it). */
    async invalidate(tenantId: string, sessionId: string): Promise<void> {
      await hot.drop(tenantId, sessionId).catch((err: unknown) => warn('drop', err));
    },
  };
}

export type SessionMemory = ReturnType<typeof createSessionMemory>;
