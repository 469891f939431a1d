import type { ChatMessage } from '../providers/types.js';
import type { Tokenizer } from '../tokens/tokenizer.js';
import { type Turn, toMessage, turnTokens } from '../memory/turns.js';

export interface FittedHistory {
  messages: ChatMessage[];
  tokens: number;
  /** seq of the oldest turn included, or null when none fit. */
  fromSeq: number | null;
}

/**
 * The newest turns that fit `budget` tokens, oldest first. Pure. A cut never leaves a tool result
 * without the assistant turn that called it (upstreams reject such a prompt), so leading tool
 * turns are dropped.
 */
export function fitHistory(turns: readonly Turn[], tokenizer: Tokenizer, budget: number): FittedHistory {
  let used = 0;
  let start = turns.length;
  for (let i = turns.length - 1; i >= 0; i--) {
    const cost = turnTokens(turns[i] as Turn, tokenizer);
    if (used + cost > budget) break;
    used += cost;
    start = i;
  }
  while (start < turns.length && (turns[start] as Turn).role === 'tool') {
    used -= turnTokens(turns[start] as Turn, tokenizer);
    start++;
  }
  const kept = turns.slice(start);
  return { messages: kept.map(toMessage), tokens: used, fromSeq: kept[0]?.seq ?? null };
}
