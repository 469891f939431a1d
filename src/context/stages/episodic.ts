import type { EpisodicHit, EpisodicSearch, EpisodicSearchOptions } from '../../memory/episodic/search.js';
import { turnKey } from '../../memory/turns.js';
import type { Candidate, ContextStage } from '../types.js';

/** A retrieved turn's typical cost in a prompt; sets how deep to search for a given room. */
const TOKENS_PER_TURN = 25;

/**
 * Older turns of the session (or the user's sessions) relevant to the latest message. The search
 * goes as deep as the room could hold (at least `options.candidates` per retriever), so a large
 * budget is filled with relevant turns rather than left to recency.
 */
export function createEpisodicStage(search: EpisodicSearch, options: EpisodicSearchOptions): ContextStage {
  return {
    section: 'episodic',
    async gather(input) {
      if (!input.scope) return [];
      const candidates = Math.min(MAX_CANDIDATES, Math.max(options.candidates, Math.ceil(input.room / TOKENS_PER_TURN)));
      return episodicCandidates(await search.search(input.scope, input.query, input.queryVector(), { ...options, candidates }));
    },
  };
}

/** Deepest search, whatever the room (a 128k-token window does not need 5,000 candidates ranked). */
const MAX_CANDIDATES = 200;

const DAY = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

/** The heading of the day a turn was said, so "when did…" questions can be answered from the prompt. */
export function dayHeading(iso: string): string {
  return `[${DAY.format(new Date(iso)).replace(',', '')}]`;
}

/** How a retrieved turn reads in the prompt: "Speaker: text", under its day's heading. */
export function episodicCandidates(hits: readonly EpisodicHit[]): Candidate[] {
  return hits.map((h) => {
    const t = h.turn;
    const speaker = t.fields?.name ?? (t.role === 'user' ? 'User' : 'Assistant');
    return {
      section: 'episodic',
      text: `${speaker}: ${t.content}`,
      group: dayHeading(t.createdAt),
      // Chronological: by time, then by position in the session.
      order: Date.parse(t.createdAt) * 1e3 + (t.seq % 1e3),
      score: h.score,
      turnKey: turnKey(t.sessionId, t.seq),
      provenance: {
        kind: 'turn',
        id: `turn:${t.sessionId}:${t.seq}`,
        session_id: t.sessionId,
        seq: t.seq,
        external_id: t.externalId,
        created_at: t.createdAt,
        score: Number(h.score.toFixed(5)),
        via: h.via,
      },
    };
  });
}
