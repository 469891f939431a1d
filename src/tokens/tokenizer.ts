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

/**
 * js-tiktoken's rank files, read directly: its `Tiktoken` keys every token by a decimal byte list
 * and keeps a rank → bytes map besides (~230 MB of RSS for both encodings).
 */
interface RankFile {
  pat_str: string;
  /** Lines of `<tag> <offset> <base64> <base64> …` (the tag is unused): the i-th token of a line has rank offset + i. */
  bpe_ranks: string;
}

const rankFiles: Record<Encoding, RankFile> = { o200k_base: o200k, cl100k_base: cl100k };
const cache = new Map<Encoding, Tokenizer>();

/** One tokenizer per encoding per process; building a rank table takes ~0.2–0.3 s, so it is shared. */
export function getTokenizer(encoding: Encoding): Tokenizer {
  let t = cache.get(encoding);
  if (!t) {
    t = createTokenizer(encoding);
    cache.set(encoding, t);
  }
  return t;
}

function createTokenizer(encoding: Encoding): Tokenizer {
  const count = createCounter(rankFiles[encoding]);
  return {
    encoding,
    count,
    countMessage(m) {
      let n = TOKENS_PER_MESSAGE + count(m.role) + count(messageText(m));
      if (m.name) n += TOKENS_PER_NAME + count(m.name);
      if (m.tool_calls) for (const call of m.tool_calls) n += count(call.function.name) + count(call.function.arguments) + TOKENS_PER_MESSAGE;
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

/**
 * Counts exactly what js-tiktoken's `encode(text, [], [])` returns: special-token strings count as
 * ordinary text. Tokens are keyed by their bytes as a binary string (one char per byte), so an ASCII
 * piece is looked up where it lies in the text, with no copy and no byte encoding. The split pattern
 * is compiled once; js-tiktoken compiles it on every call (~60 µs a short message).
 *
 * Pieces are found with a sticky `test`, which allocates nothing, where `exec` would build a match
 * array and a substring per piece (~6 KB of garbage for a short answer, on every session request).
 * The pattern covers every character, so each piece starts where the last ended; should it ever
 * not match at a position, `exec` finds the next piece, as a global scan would.
 * test/unit/tokenizer.test.ts checks the counts against js-tiktoken's own encode.
 */
function createCounter(file: RankFile): (text: string) => number {
  const ranks = RankTable.from(file.bpe_ranks);
  const sticky = new RegExp(file.pat_str, 'uy');
  const scan = new RegExp(file.pat_str, 'ug');
  return (text: string): number => {
    let n = 0;
    for (let at = 0; at < text.length; ) {
      let start = at;
      let end: number;
      sticky.lastIndex = at;
      if (sticky.test(text)) end = sticky.lastIndex;
      else {
        scan.lastIndex = at;
        const m = scan.exec(text);
        if (m === null) break;
        start = m.index;
        end = start + m[0].length;
      }
      if (isAscii(text, start, end)) n += ranks.rank(text, start, end) >= 0 ? 1 : mergedCount(text, start, end, ranks);
      else {
        const bytes = utf8Binary(text.slice(start, end));
        n += ranks.rank(bytes, 0, bytes.length) >= 0 ? 1 : mergedCount(bytes, 0, bytes.length, ranks);
      }
      at = end;
    }
    return n;
  };
}

function isAscii(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Rank by token, each token's bytes in one flat pool and found through an open-addressing table of
 * typed arrays. None of it is a V8 heap object: a Map of the ~300k tokens of both encodings (~18 MB
 * of small strings) was walked by every full collection, and took ~10 ms more of each on one core.
 */
class RankTable {
  private constructor(
    /** Token bytes, token i at starts[i] up to starts[i + 1]. */
    private readonly pool: Uint8Array,
    private readonly starts: Int32Array,
    private readonly ranks: Int32Array,
    /** Token index + 1 per slot; 0 is empty. */
    private readonly slots: Int32Array,
  ) {}

  /** From a rank file's lines of `<tag> <offset> <base64> <base64> …`: the i-th token of a line has rank offset + i. */
  static from(bpeRanks: string): RankTable {
    const tokens: string[] = [];
    const rankOf: number[] = [];
    let bytes = 0;
    for (const line of bpeRanks.split('\n')) {
      const fields = line.split(' ');
      const offset = Number.parseInt(fields[1] ?? '', 10);
      for (let i = 2; i < fields.length; i++) {
        // atob decodes base64 straight to the binary string: one char per byte.
        const token = atob(fields[i] ?? '');
        tokens.push(token);
        rankOf.push(offset + i - 2);
        bytes += token.length;
      }
    }
    let size = 1;
    while (size < tokens.length * 2) size <<= 1;
    const table = new RankTable(new Uint8Array(bytes), new Int32Array(tokens.length + 1), Int32Array.from(rankOf), new Int32Array(size));
    // Each token's bytes go into the pool before it is inserted; later duplicates win, as in js-tiktoken (there are none).
    for (const [i, t] of tokens.entries()) table.add(t, i);
    return table;
  }

  /** Token `index` (added in index order): its bytes after the previous token's, then its slot. */
  private add(token: string, index: number): void {
    let at = this.starts[index] as number;
    for (let k = 0; k < token.length; k++) this.pool[at++] = token.charCodeAt(k);
    this.starts[index + 1] = at;
    const mask = this.slots.length - 1;
    for (let slot = hash(token, 0, token.length) & mask; ; slot = (slot + 1) & mask) {
      const held = (this.slots[slot] as number) - 1;
      if (held < 0 || this.equals(held, token, 0, token.length)) {
        this.slots[slot] = index + 1;
        return;
      }
    }
  }

  /** The rank of the token `s.slice(from, to)` (a binary string), or -1 when it is no token. */
  rank(s: string, from: number, to: number): number {
    const mask = this.slots.length - 1;
    for (let slot = hash(s, from, to) & mask; ; slot = (slot + 1) & mask) {
      const held = (this.slots[slot] as number) - 1;
      if (held < 0) return -1;
      if (this.equals(held, s, from, to)) return this.ranks[held] as number;
    }
  }

  private equals(index: number, s: string, from: number, to: number): boolean {
    const start = this.starts[index] as number;
    if ((this.starts[index + 1] as number) - start !== to - from) return false;
    for (let k = 0; k < to - from; k++) if (this.pool[start + k] !== s.charCodeAt(from + k)) return false;
    return true;
  }
}

/** FNV-1a over a binary string's chars (bytes). */
function hash(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A string's UTF-8 bytes as a binary string; a lone surrogate becomes U+FFFD, as with TextEncoder. */
function utf8Binary(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * Tokens the piece `bytes.slice(from, to)` splits into under byte-pair merging, as js-tiktoken's
 * `bytePairMerge` does it: merge the adjacent pair of lowest rank (the leftmost on a tie) until no
 * pair is a token. Only the two pairs next to a merge change, so their ranks are kept rather than
 * looked up again, which keeps long pieces (a run of 300 'x') from costing a lookup per pair per
 * merge. Every single byte is a token in both encodings, so every part left is one token.
 */
function mergedCount(bytes: string, from: number, to: number, ranks: RankTable): number {
  // Part i spans bytes starts[i] to starts[i + 1]; pairRank[i] ranks part i merged with part i + 1.
  const starts = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const rankOf = (i: number): number => {
    const r = ranks.rank(bytes, starts[i] as number, starts[i + 2] as number);
    return r < 0 ? Number.POSITIVE_INFINITY : r;
  };
  const pairRank = Array.from({ length: to - from - 1 }, (_, i) => rankOf(i));
  while (pairRank.length > 0) {
    let at = 0;
    for (let i = 1; i < pairRank.length; i++) if ((pairRank[i] as number) < (pairRank[at] as number)) at = i;
    if (pairRank[at] === Number.POSITIVE_INFINITY) break;
    starts.splice(at + 1, 1);
    pairRank.splice(at, 1);
    if (at < pairRank.length) pairRank[at] = rankOf(at);
    if (at > 0) pairRank[at - 1] = rankOf(at - 1);
  }
  return starts.length - 1;
}
