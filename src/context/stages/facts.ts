import type { FactIndex } from '../../memory/facts/index.js';
import type { Candidate, ContextStage } from '../types.js';

/**
 * The facts section: the request user's current fact memories most relevant to the latest message,
 * best first, each as one line (with its date when it has one), those at least `minScore` similar only.
 * Runs for requests that name a user.
 */
export function createFactsStage(index: FactIndex, opts: { topK: number; minScore: number }): ContextStage {
  return {
    section: 'facts',
    async gather(input): Promise<Candidate[]> {
      if (!input.userId || !input.query || !(await index.has(input.tenantId, input.userId))) return [];
      const hits = await index.search(input.tenantId, input.userId, await input.queryVector(), opts.topK);
      return hits.filter((h) => h.score >= opts.minScore).map(({ memory, score }, i) => ({
        section: 'facts',
        text: `- ${memory.text}${memory.event_at ? ` (${memory.event_at.slice(0, 10)})` : ''}`,
        order: i,
        score,
        provenance: { kind: 'fact', id: memory.id, score, created_at: memory.created_at, source_turns: memory.source_turns },
      }));
    },
  };
}
