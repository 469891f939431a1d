/** Tokens of a question: words (clitics split off, "don't" marked negated), numbers, symbols; and `stem`. Part of the cache guard (src/cache/guard.ts). */

import { canonicalNumber } from './numbers.js';

export interface Token {
  /** 'num' holds a canonical number in `low`; 'sym' is one of $ € £ ¥ ₹ % ° ^ / -> →; 'punct' ends a sentence. */
  kind: 'word' | 'num' | 'sym' | 'punct';
  /** As written (a word without its 's / 're / n't). */
  raw: string;
  /** Lower-case form; for numbers the canonical value. */
  low: string;
  /** First word of a sentence (its capital says nothing). */
  start: boolean;
  /** Written right after the previous token, without a space ("5km", "1960s", "3pm"). */
  glued: boolean;
  /** Carried an n't ("don't", "can't"). */
  negated?: boolean;
}

export const TOKEN_RE = /(\d+(?:[.,:]\d+)*)|([\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*['’]?)|(->|→|[$€£¥₹%°^/])|([.?!;:¿¡]+)/gu;

/** English clitics dropped from a word ("what's" → what, "France's" → France, "I'm" → I). */
export const CLITICS = new Set(['s', 'm', 're', 've', 'll', 'd']);
export const NT_BASE: Record<string, string> = { ca: 'can', wo: 'will', sha: 'shall', ai: 'am' };

/** Rewrites a few multi-token spellings into one token before tokenising. */
export const PRE: Array<[RegExp, string]> = [
  [/\bkm\s*\/\s*hr?\b|\bkilomet(?:er|re)s?\s+(?:per|an|a)\s+hour\b/gi, ' kph '],
  [/\bmi\s*\/\s*hr?\b|\bmiles?\s+(?:per|an|a)\s+hour\b/gi, ' mph '],
  [/\bm\s*\/\s*s\b|\bmet(?:er|re)s?\s+(?:per|a)\s+second\b/gi, ' mps '],
  [/\bper\s+cent\b/gi, ' percent '],
  [/\b([ap])\.\s?m\.?(?=\s|$|[,;!?])/gi, '$1m'],
  [/\bfl(?:uid)?\.?\s*(?:oz|ounces?)\b/gi, ' oz '],
  [/\bno\s+one\b/gi, ' nobody '],
];

/** Cheap test for whether any PRE rewrite could apply. */
export const PRE_HINT = /\/|per|our|fl|\.m|no\s+one/i;

export function tokenize(text: string): Token[] {
  let t = text;
  if (PRE_HINT.test(t)) for (const [re, to] of PRE) t = t.replace(re, to);
  const out: Token[] = [];
  let atStart = true;
  let lastEnd = -1;
  for (const m of t.matchAll(TOKEN_RE)) {
    const glued = m.index === lastEnd;
    lastEnd = m.index + m[0].length;
    if (m[1] !== undefined) {
      out.push({ kind: 'num', raw: m[1], low: canonicalNumber(m[1]), start: atStart, glued });
      atStart = false;
    } else if (m[2] !== undefined) {
      for (const w of splitWord(m[2].replace(/’/g, "'"))) {
        out.push({ kind: 'word', raw: w.raw, low: w.raw.toLowerCase(), start: atStart, glued, negated: w.negated });
        atStart = false;
      }
    } else if (m[3] !== undefined) {
      out.push({ kind: 'sym', raw: m[3], low: m[3] === '→' ? '->' : m[3], start: false, glued });
    } else {
      out.push({ kind: 'punct', raw: m[0], low: m[0], start: false, glued });
      atStart = true;
    }
  }
  return out;
}

/** "don't" → do (negated), "what's" → what, "l'impasto" → l' + impasto (French/Italian elision). */
export function splitWord(w: string): Array<{ raw: string; negated?: boolean }> {
  const word = w.endsWith("'") ? w.slice(0, -1) : w;
  const lower = word.toLowerCase();
  if (lower.endsWith("n't")) {
    const base = word.slice(0, -3);
    return [{ raw: NT_BASE[base.toLowerCase()] ?? base, negated: true }];
  }
  const i = word.indexOf("'");
  if (i < 0) return [{ raw: word }];
  const post = lower.slice(i + 1);
  if (CLITICS.has(post)) return [{ raw: word.slice(0, i) }];
  return [{ raw: word.slice(0, i + 1) }, { raw: word.slice(i + 1) }];
}

export const IRREGULAR: Record<string, string> = { feet: 'foot', teeth: 'tooth', men: 'man', women: 'woman', children: 'child', mice: 'mouse' };

export function stem(w: string): string {
  const irregular = IRREGULAR[w];
  if (irregular) return irregular;
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 4 && /(s|x|z|ch|sh)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

/** One Damerau (optimal string alignment) edit apart, or equal. */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a[i] === b[i]) i++;
  if (la === lb) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}
