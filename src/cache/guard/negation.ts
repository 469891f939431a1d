/** Rule `negation`: how many negations a question holds (parity must match). Part of the cache guard (src/cache/guard.ts). */

import type { Token } from './tokens.js';

export const NEGATORS = new Set(['not', 'no', 'never', 'none', 'nobody', 'nothing', 'nowhere', 'neither', 'without', 'cannot', 'nope', 'nor']);
export const BARE_NT = new Set('dont doesnt didnt cant wont isnt arent wasnt werent shouldnt couldnt wouldnt havent hasnt hadnt aint mustnt neednt'.split(' '));
export const NEG_PREFIXES = ['un', 'in', 'im', 'il', 'ir', 'dis', 'non'];
/** Prefixed words that are negations whatever the other question says ("unable" = "can't"). */
export const NEG_WORDS = new Set(
  'unable impossible illegal unsafe unnecessary unlikely incorrect invalid unavailable unhealthy nonexistent impolite unsure'.split(' '),
);
/** "say no" names an answer, it negates nothing. */
export const SAY = new Set(['say', 'says', 'saying', 'said']);
/**
 * Politeness and hedging formulas whose negation is not part of the question: "if you don't mind",
 * "if it's not too much trouble", "I'm not sure how…", "I don't know how…", "no worries". "do" stands
 * for "don't" (split into "do" + a negation mark) and its bare spelling "dont".
 */
export const IDIOMS: readonly (readonly string[])[] = [
  ['do', 'mind'],
  ['not', 'too', 'much', 'trouble'],
  ['no', 'problem'],
  ['no', 'worries'],
  ['no', 'rush'],
  ['not', 'sure'],
  ['do', 'know'],
];

/** The length of the politeness formula starting at `words[i]`, or 0. */
export function idiomAt(words: readonly Token[], i: number): number {
  for (const idiom of IDIOMS) {
    let k = 0;
    while (k < idiom.length) {
      const w = words[i + k];
      const want = idiom[k] as string;
      const ok = w !== undefined && (w.low === want || (k === 0 && want === 'do' && w.low === 'dont'));
      if (!ok) break;
      k++;
    }
    if (k === idiom.length && (idiom[0] !== 'do' || words[i]?.negated === true || words[i]?.low === 'dont')) return k;
  }
  return 0;
}

/**
 * Rule `negation`: the parity of negations must match. Counted: not, no, never, none, nobody, nothing,
 * nowhere, without, cannot, n't (also typed without the apostrophe: "dont", "cant"), and neither…nor
 * once ("say no" not at all). A word with a negative prefix (un-, in-, im-, il-, ir-, dis-, non-) counts
 * when the other question has the bare word, and a few always do (NEG_WORDS): "illegal"/"legal" and
 * "lock"/"unlock" differ, "unsafe"/"not safe" and "unable"/"can't" agree. Negations inside politeness
 * formulas (IDIOMS: "if you don't mind") are not counted.
 */
export function negationCount(words: readonly Token[], otherWords: ReadonlySet<string>): number {
  let n = 0;
  let neither = false;
  let prev = '';
  let skip = 0;
  for (let i = 0; i < words.length; i++) {
    const t = words[i] as Token;
    if (skip === 0) skip = idiomAt(words, i);
    if (skip > 0) {
      skip--;
      prev = t.low;
      continue;
    }
    if (t.negated) n++;
    const w = t.low;
    if (w === 'nor' && neither) continue;
    if (w === 'neither') neither = true;
    if (w === 'no' && SAY.has(prev)) {
      prev = w;
      continue;
    }
    prev = w;
    if (NEGATORS.has(w) || BARE_NT.has(w) || NEG_WORDS.has(w)) n++;
    else if (!otherWords.has(w)) {
      for (const p of NEG_PREFIXES) {
        if (w.length - p.length >= 4 && w.startsWith(p) && otherWords.has(w.slice(p.length))) {
          n++;
          break;
        }
      }
    }
  }
  return n;
}
