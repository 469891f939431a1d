import type { Tokenizer } from '../tokens/tokenizer.js';

/**
 * Structure-aware chunking of markdown (and plain text, which is markdown without structure).
 * Headings, paragraphs, lists, tables and code blocks are kept whole when they fit the target; a
 * block larger than the target is split at sentence (prose) or line (lists, tables, code)
 * boundaries. Every chunk is an exact slice of the source, so its character offsets point at the
 * place a citation quotes, and it carries the path of headings it sits under.
 */

export interface ChunkingOptions {
  targetTokens: number;
  overlapTokens: number;
}

export interface Chunk {
  /** `source.slice(start, end)`. */
  text: string;
  start: number;
  end: number;
  /** Headings above the chunk, outermost first. */
  headingPath: string[];
  tokens: number;
}

type BlockKind = 'heading' | 'paragraph' | 'list' | 'table' | 'code';

interface Unit {
  start: number;
  end: number;
  tokens: number;
}

interface Block {
  kind: BlockKind;
  start: number;
  end: number;
  level?: number;
  title?: string;
  units: Unit[];
  tokens: number;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^\s*(?:[-*+]|\d{1,9}[.)])\s+/;
const TABLE_ROW = /^\s*\|/;
/** A sentence ends at . ! ? (or a CJK stop) followed by space; abbreviations may split early, which only costs a boundary. */
const SENTENCE_END = /(?<=[.!?。！？])\s+(?=\S)/g;

/** The lines of `text` with their offsets (the newline belongs to the line before it). */
function lines(text: string): Array<{ start: number; end: number; line: string }> {
  const out: Array<{ start: number; end: number; line: string }> = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl === -1 ? text.length : nl + 1;
    out.push({ start, end, line: text.slice(start, nl === -1 ? text.length : nl) });
    start = end;
  }
  return out;
}

/** Splits the source into blocks; units are the places a block may be cut. */
export function parseBlocks(text: string, tokenizer: Tokenizer): Block[] {
  const blocks: Block[] = [];
  const ls = lines(text);
  const unit = (start: number, end: number): Unit => ({ start, end, tokens: tokenizer.count(text.slice(start, end)) });
  const push = (kind: BlockKind, start: number, end: number, units: Unit[], extra: Partial<Block> = {}) => {
    if (units.length === 0) return;
    blocks.push({ kind, start, end, units, tokens: units.reduce((s, u) => s + u.tokens, 0), ...extra });
  };

  let i = 0;
  while (i < ls.length) {
    const l = ls[i] as { start: number; end: number; line: string };
    if (l.line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(l.line);
    if (fence) {
      const marker = fence[1] as string;
      let j = i + 1;
      while (j < ls.length && !(ls[j] as { line: string }).line.trimStart().startsWith(marker)) j++;
      const last = Math.min(j, ls.length - 1);
      push('code', l.start, (ls[last] as { end: number }).end, ls.slice(i, last + 1).map((x) => unit(x.start, x.end)));
      i = last + 1;
      continue;
    }
    const heading = HEADING.exec(l.line);
    if (heading) {
      push('heading', l.start, l.end, [unit(l.start, l.end)], { level: (heading[1] as string).length, title: heading[2] as string });
      i++;
      continue;
    }
    // Lists and tables: consecutive item lines (with their continuation lines), cut per line.
    const kind: BlockKind | undefined = TABLE_ROW.test(l.line) ? 'table' : LIST_ITEM.test(l.line) ? 'list' : undefined;
    if (kind) {
      let j = i;
      while (j < ls.length) {
        const x = ls[j] as { line: string };
        if (x.line.trim() === '' || HEADING.test(x.line) || FENCE.test(x.line)) break;
        if (kind === 'table' && !TABLE_ROW.test(x.line)) break;
        j++;
      }
      push(kind, l.start, (ls[j - 1] as { end: number }).end, ls.slice(i, j).map((x) => unit(x.start, x.end)));
      i = j;
      continue;
    }
    // A paragraph: until a blank line or another block starts; cut at sentences.
    let j = i + 1;
    while (j < ls.length) {
      const x = ls[j] as { line: string };
      if (x.line.trim() === '' || HEADING.test(x.line) || FENCE.test(x.line) || LIST_ITEM.test(x.line) || TABLE_ROW.test(x.line)) break;
      j++;
    }
    const start = l.start;
    const end = (ls[j - 1] as { end: number }).end;
    const body = text.slice(start, end);
    const units: Unit[] = [];
    let from = 0;
    for (const m of body.matchAll(SENTENCE_END)) {
      const cut = (m.index as number) + m[0].length;
      units.push(unit(start + from, start + cut));
      from = cut;
    }
    if (from < body.length) units.push(unit(start + from, end));
    push('paragraph', start, end, units);
    i = j;
  }
  return blocks;
}

/** Chunks `text` (see the module comment). Empty or blank text gives no chunks. */
export function chunkText(text: string, tokenizer: Tokenizer, opts: ChunkingOptions): Chunk[] {
  const chunks: Chunk[] = [];
  const path: Array<{ level: number; title: string }> = [];
  let units: Unit[] = [];
  let tokens = 0;
  let chunkPath: string[] = [];
  /** The current chunk holds only a heading, which stays with what follows it. */
  let headingOnly = false;

  const flush = (keepOverlap: boolean) => {
    if (units.length === 0) return;
    const start = (units[0] as Unit).start;
    const end = (units[units.length - 1] as Unit).end;
    const slice = text.slice(start, end);
    chunks.push({ text: slice.trimEnd(), start, end: start + slice.trimEnd().length, headingPath: chunkPath, tokens: tokenizer.count(slice.trimEnd()) });
    // The next chunk starts with the last units of this one, up to the overlap.
    const kept: Unit[] = [];
    let keptTokens = 0;
    if (keepOverlap) {
      for (let k = units.length - 1; k > 0; k--) {
        const u = units[k] as Unit;
        if (keptTokens + u.tokens > opts.overlapTokens) break;
        kept.unshift(u);
        keptTokens += u.tokens;
      }
    }
    units = kept;
    tokens = keptTokens;
  };
  const add = (u: Unit, heading = false) => {
    if (units.length === 0) chunkPath = path.map((h) => h.title);
    headingOnly = heading && units.length === 0;
    units.push(u);
    tokens += u.tokens;
  };

  for (const block of parseBlocks(text, tokenizer)) {
    if (block.kind === 'heading') {
      // A new section: what came before is one chunk, without overlap into the section.
      flush(false);
      while (path.length > 0 && (path[path.length - 1] as { level: number }).level >= (block.level as number)) path.pop();
      path.push({ level: block.level as number, title: block.title as string });
      add(block.units[0] as Unit, true);
      continue;
    }
    if (tokens + block.tokens <= opts.targetTokens) {
      for (const u of block.units) add(u);
      continue;
    }
    // Does not fit: the current chunk ends here (a lone heading stays with what follows it).
    if (!headingOnly) flush(true);
    if (tokens + block.tokens <= opts.targetTokens) {
      for (const u of block.units) add(u);
      continue;
    }
    // Larger than a chunk: cut it at its units.
    for (const u of block.units) {
      if (tokens + u.tokens > opts.targetTokens && units.length > 0) flush(true);
      add(u);
    }
  }
  flush(false);
  return chunks.filter((c) => c.text.trim() !== '');
}

/**
 * The passages a chunk's text is embedded as: its paragraphs (blank-line separated) grouped in order
 * while they fit `maxTokens`, a longer paragraph split at sentences (a sentence longer than that stays
 * whole: the encoder truncates it). A small sentence encoder makes a sharper vector of one passage
 * than of a long chunk it averages; the chunk then scores as its best passage. `maxTokens` 0 keeps the
 * text as one passage.
 */
export function passages(text: string, tokenizer: Tokenizer, maxTokens: number): string[] {
  const whole = text.trim();
  if (maxTokens <= 0 || whole.length === 0 || tokenizer.count(whole) <= maxTokens) return whole.length > 0 ? [whole] : [];
  const pieces: Array<{ text: string; tokens: number }> = [];
  for (const paragraph of whole.split(/\n[ \t]*\n/)) {
    const p = paragraph.trim();
    if (p.length === 0) continue;
    const tokens = tokenizer.count(p);
    if (tokens <= maxTokens) pieces.push({ text: p, tokens });
    else for (const s of p.split(SENTENCE_END)) pieces.push({ text: s, tokens: tokenizer.count(s) });
  }
  const out: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const piece of pieces) {
    if (current.length > 0 && size + piece.tokens > maxTokens) {
      out.push(current.join('\n'));
      current = [];
      size = 0;
    }
    current.push(piece.text);
    size += piece.tokens;
  }
  if (current.length > 0) out.push(current.join('\n'));
  return out;
}
