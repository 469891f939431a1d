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
  const bpe = new Tiktoken(ranks[encoding]);
  const count = (text: string): number => (text.length === 0 ? 0 : bpe.encode(text, [], []).length);
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
