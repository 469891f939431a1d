import type { Embedder } from '../../embeddings/port.js';
import { modelCollection } from '../../vector/naming.js';
import type { CollectionSpec } from '../../vector/port.js';
import type { TurnFields } from '../turns.js';

/** The vector collection of a deployment's turns; searches filter on the session or the user. */
export function turnCollection(embedder: Pick<Embedder, 'model' | 'dimensions'>): CollectionSpec {
  return modelCollection('turns', embedder, ['session', 'user']);
}

/** Roles whose turns are worth remembering; tool results and system text are not episodes. */
export const EPISODIC_ROLES: ReadonlySet<string> = new Set(['user', 'assistant']);

/** Longest text embedded per turn: the start of a very long turn says what it is about. */
const MAX_EMBED_CHARS = 2000;

/**
 * What is embedded for a turn: "Speaker: text", with the speaker's name when the turn has one. The
 * name matters: questions name people ("what did Caroline…"), and measured on LoCoMo, vectors of
 * the text alone recall far less (0.41 vs 0.58 at 1024 tokens, shared/bench/README).
 */
export function embeddingText(t: { role: string; content: string; fields: TurnFields | null }): string {
  const speaker = t.fields?.name ?? t.role;
  return `${speaker}: ${t.content.slice(0, MAX_EMBED_CHARS)}`;
}
