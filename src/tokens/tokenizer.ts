import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import type { ChatMessage } from '../providers/types.js';
import type { Encoding } from './models.js';

/** The `Tokenizer` port: exact token counts for one encoding. */
export interface Tokenizer {
  readonly encoding: Encoding;
  count(text: string): number;
  /** Tokens a message costs in a chat prompt, framing included. */
  countMessage(message: ChatMessage): number;
}

// OpenAI's documented chat framing: every message costs 3 tokens besides its fields, a name 1 more,
// and every reply is primed with 3 (`<|start|>assistant<|message|>`).
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;

const ranks = { o200k_base: o200k, cl100k_base: cl100k } as const;
const cache = new Map<Encoding, Tokenizer>();

/** One tokenizer per encoding per process; building the BPE table takes ~100 ms, so it is shared. */
export function getTokenizer(encoding: Encoding): Tokenizer {
  let t = cache.get(encoding);
  if (!t) {
    t = createTokenizer(encoding);
    cache.set(encoding, t);
  }
  return t;
}

function createTokenizer(encoding: Encoding): Tokenizer {
  const count = createCounter(new Tiktoken(ranks[encoding]));
  return {
    encoding,
    count,
    countMessage(m) {
      let n = TOKENS_PER_MESSAGE + count(m.role) + count(messageText(m));
      if (m.name) n += TOKENS_PER_NAME + count(m.name);
      for (const call of m.tool_calls ?? []) n += count(call.function.name) + count(call.function.arguments) + TOKENS_PER_MESSAGE;
      if (m.tool_call_id) n += count(m.tool_call_id);
      return n;
    },
  };
}

/** The text of a message's content, whether a string or a list of parts (images count as 0 here). */
export function messageText(m: Pick<ChatMessage, 'content'>): string {
  if (typeof m.content === 'string') return m.content;
  if (!m.content) return '';
  let out = '';
  for (const part of m.content) if (part.type === 'text' && typeof part.text === 'string') out += part.text;
  return out;
}

/** What the counter reads of js-tiktoken's encoder: its split pattern and its byte-pair ranks. */
interface TiktokenInternals {
  patStr: string;
  rankMap: Map<string, number>;
}

/**
 * Counts exactly what `Tiktoken.encode(text, [], [])` would return, without its per-call costs:
 * js-tiktoken compiles the split pattern and a special-token regex on every call, which made a
 * short message cost ~60 µs. Here the pattern is compiled once and only the count is built.
 * Special-token strings count as ordinary text, as they do with `encode(text, [], [])`.
 * test/unit/tokenizer.test.ts checks the counts against js-tiktoken's own encode.
 */
function createCounter(bpe: Tiktoken): (text: string) => number {
  const { patStr, rankMap } = bpe as unknown as TiktokenInternals;
  const split = new RegExp(patStr, 'ug');
  const utf8 = new TextEncoder();
  // Most pieces are whole tokens that are valid UTF-8 on their own (" the", "hello"): index those
  // by their text so the common case is one Map lookup, with no byte encoding or key building.
  const whole = new Set<string>();
  const strict = new TextDecoder('utf-8', { fatal: true });
  for (const key of rankMap.keys()) {
    try {
      whole.add(strict.decode(Uint8Array.from(key.split(','), Number)));
    } catch {
      // a byte sequence that is not valid UTF-8 alone: only reachable through the byte path
    }
  }
  return (text: string): number => {
    if (text.length === 0) return 0;
    let n = 0;
    for (const match of text.matchAll(split)) {
      if (whole.has(match[0])) {
        n++;
        continue;
      }
      const piece = utf8.encode(match[0]);
      n += rankMap.has(piece.join(',')) ? 1 : mergedPieceCount(piece, rankMap);
    }
    return n;
  };
}

/** Tokens a piece splits into under byte-pair merging (tiktoken's `bytePairMerge`, counting only). */
function mergedPieceCount(piece: Uint8Array, ranks: Map<string, number>): number {
  if (piece.length === 1) return ranks.has(piece.join(',')) ? 1 : 0;
  const starts = Array.from({ length: piece.length + 1 }, (_, i) => i);
  while (starts.length > 2) {
    let minRank = Number.POSITIVE_INFINITY;
    let at = -1;
    for (let i = 0; i < starts.length - 2; i++) {
      const rank = ranks.get(piece.slice(starts[i] as number, starts[i + 2] as number).join(','));
      if (rank !== undefined && rank < minRank) {
        minRank = rank;
        at = i;
      }
    }
    if (at === -1) break;
    starts.splice(at + 1, 1);
  }
  let n = 0;
  for (let i = 0; i < starts.length - 1; i++) if (ranks.has(piece.slice(starts[i] as number, starts[i + 1] as number).join(','))) n++;
  return n;
}
