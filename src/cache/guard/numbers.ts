/** Rule `number`: the numbers a question states, as values. Part of the cache guard (src/cache/guard.ts). */

import type { Token } from './tokens.js';

/**
 * "1,000" → 1000, "5.0" → 5, "3:00" → 3, "3:30" stays, "1.2.3" (a version) stays as written.
 */
export function canonicalNumber(s: string): string {
  if (/^\d{1,3}(,\d{3})+$/.test(s)) return String(Number(s.replace(/,/g, '')));
  if (/^\d{1,3}(\.\d{3}){2,}$/.test(s)) return String(Number(s.replace(/\./g, '')));
  if (/^\d+(\.\d+)?$/.test(s)) return String(Number(s));
  if (/^\d{1,2}:\d{2}$/.test(s)) return s.endsWith(':00') ? String(Number(s.slice(0, -3))) : s.replace(/^0(\d)/, '$1');
  return s;
}

export const SMALL = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
export const TEENS = ['thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
export const TENS = ['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
export const ORDINALS = ['third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth'];
export const NUMBER_WORDS = new Map<string, number>([
  ...SMALL.map((w, i) => [w, i] as [string, number]),
  ...TEENS.map((w, i) => [w, 13 + i] as [string, number]),
  ...TENS.map((w, i) => [w, 20 + 10 * i] as [string, number]),
  ...ORDINALS.map((w, i) => [w, 3 + i] as [string, number]),
  ...TEENS.map((w, i) => [`${w}th`, 13 + i] as [string, number]),
  ['twentieth', 20],
  ['half', 0.5],
]);
export const SCALES = new Map<string, number>([
  ['dozen', 12],
  ['hundred', 100],
  ['thousand', 1e3],
  ['million', 1e6],
  ['billion', 1e9],
  ['trillion', 1e12],
]);
/** "one" is a pronoun after these ("which one", "no one", "how one reverts", "can one") and before "of"/"another". */
export const ONE_PRONOUN_BEFORE = new Set(
  'which this that each every any some the no a an other right wrong new old good best how can could should would does do may might must where when if why will'.split(' '),
);
export const ORDINAL_SUFFIX = new Set(['st', 'nd', 'rd', 'th', 's']);

export const numberWord = (tokens: Token[], i: number): number | undefined => {
  const t = tokens[i];
  if (t?.kind !== 'word') return undefined;
  const v = NUMBER_WORDS.get(t.low);
  if (v === undefined) return undefined;
  if (t.low === 'one') {
    if (ONE_PRONOUN_BEFORE.has(tokens[i - 1]?.low ?? '')) return undefined;
    const next = tokens[i + 1]?.low;
    if (next === 'of' || next === 'another') return undefined;
  }
  return v;
};

/**
 * Rule `number`: the numbers of both questions must be equal as multisets. Digits with decimals and
 * thousands separators, years, "1960s", "15th", "5k" (5000), "401k", "1/4", number words one–twenty and
 * the tens, ordinals third–twentieth ("second" after "the"; "first" is too often "early"), "twenty
 * five", "1 million", "a dozen", "two and a half", "half", "a quarter" are read to values, so "5" =
 * "5.0" = "five" and "1,000,000" = "1 million". Digits inside a word ("mp3", "2fa", "x^2") count too.
 * A 1 one question states and the other lacks is excused when the other has "a"/"an"/"per"/"each"/
 * "every"/"first"/"single" ("one week" = "a week", "1st" = "first"); see `numbersMatch`.
 * Marks the tokens it consumed in `used` (so "k" in "5k" is not read as a unit).
 */
export function extractNumbers(tokens: Token[], used: Set<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let v: number | undefined;
    let literal: string | undefined;
    if (t.kind === 'num') {
      const n = Number(t.low);
      if (Number.isFinite(n)) v = n;
      else literal = t.low;
      const slash = tokens[i + 1];
      const den = tokens[i + 2];
      if (v !== undefined && slash?.low === '/' && slash.glued && den?.kind === 'num' && den.glued && Number(den.low) > 0) {
        v /= Number(den.low);
        used.add(i + 1).add(i + 2);
        i += 2;
      }
      const next = tokens[i + 1];
      if (next?.glued && next.kind === 'word') {
        if (next.low === 'k' && v !== undefined) {
          v *= 1000;
          used.add(i + 1);
          i++;
        } else if (ORDINAL_SUFFIX.has(next.low)) {
          used.add(i + 1);
          i++;
        }
      }
    } else if (t.kind === 'word') {
      v = numberWord(tokens, i);
      const scale = SCALES.get(t.low);
      const prev = tokens[i - 1]?.low;
      if (v === undefined && scale !== undefined && (prev === 'a' || prev === 'an')) v = scale;
      if (v === undefined && t.low === 'quarter' && (prev === 'a' || prev === 'one')) v = 0.25;
      if (v === undefined && t.low === 'second' && prev === 'the') v = 2;
      if (v === undefined) continue;
    } else continue;
    if (literal !== undefined) {
      out.push(literal);
      continue;
    }
    // Extend: "twenty five", "two hundred", "1.5 million", "two and a half", "one hundred and five".
    for (;;) {
      const next = tokens[i + 1];
      if (next?.kind !== 'word' || v === undefined) break;
      const scale = SCALES.get(next.low);
      const small = NUMBER_WORDS.get(next.low);
      if (scale !== undefined) {
        v *= scale;
        i++;
      } else if (v >= 20 && v < 100 && v % 10 === 0 && small !== undefined && small >= 1 && small <= 9 && Number.isInteger(small)) {
        v += small;
        i++;
      } else if (next.low === 'and' && tokens[i + 2]?.low === 'a' && tokens[i + 3]?.low === 'half') {
        v += 0.5;
        i += 3;
      } else if (next.low === 'and' && v >= 100 && Number.isInteger(v)) {
        const after = numberWord(tokens, i + 2);
        if (after === undefined || after < 1 || after >= 100) break;
        v += after;
        i += 2;
      } else break;
    }
    out.push(String(v));
  }
  return out.sort();
}
