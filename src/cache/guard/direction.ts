/** Rule `direction`: antonyms exchanged, spans swapped across "to"/"than", and roles of names and units. Part of the cache guard (src/cache/guard.ts). */

import type { Token } from './tokens.js';
import { numberWord } from './numbers.js';
import { ROLE_SKIP, type Term, UNITS } from './units.js';

export const ANTONYMS: Array<[string, string]> = [
  [
    'increase increases increased increasing raise raises raising boost boosts rise rises rising grow grows',
    'decrease decreases decreased decreasing reduce reduces reducing lower lowers lowering drop drops fall falls falling shrink',
  ],
  ['high higher highest', 'low lower lowest'],
  ['up', 'down'],
  ['buy buying bought purchase', 'sell selling sold'],
  ['hot hotter hottest warm warmer warmest heat heating', 'cold colder coldest cool cooler coolest chill cooling'],
  ['enable enabled enabling activate', 'disable disabled disabling deactivate'],
  ['on', 'off'],
  ['upload uploading uploaded', 'download downloading downloaded'],
  ['before earlier earliest early', 'after later latest late'],
  ['start starts starting begin begins beginning', 'stop stops stopping end ends ending finish'],
  ['open opens opening', 'close closes closing closed shut'],
  ['add adding added', 'remove removing removed delete deleting'],
  ['import importing', 'export exporting'],
  ['encrypt encrypting encode encoding compress compressing zip', 'decrypt decrypting decode decoding decompress decompressing unzip'],
  ['push', 'pull'],
  ['install installing', 'uninstall uninstalling'],
  ['lock', 'unlock'],
  ['mute', 'unmute'],
  ['connect connecting', 'disconnect disconnecting'],
  ['in', 'out'],
  ['north northern', 'south southern'],
  ['east eastern', 'west western'],
  ['maximum max most more greater greatest', 'minimum min least less fewer fewest'],
  ['best better good', 'worst worse bad'],
  ['fast faster fastest quick quicker quickest', 'slow slower slowest'],
  ['big bigger biggest large larger largest', 'small smaller smallest'],
  ['long longer longest', 'short shorter shortest'],
  ['tall taller tallest', 'short shorter shortest'],
  ['heavy heavier heaviest', 'light lighter lightest'],
  ['old older oldest', 'young younger youngest new newer newest'],
  ['cheap cheaper cheapest inexpensive', 'expensive pricier priciest costly costlier'],
  ['easy easier easiest simple', 'hard harder hardest difficult'],
  ['safe safer safest', 'dangerous risky riskier'],
  ['deep deeper deepest', 'shallow shallower shallowest'],
  ['near nearer nearest close closer closest', 'far farther farthest further furthest'],
  ['gain gaining', 'lose losing loss'],
  ['win winning won', 'lose losing lost'],
  ['deposit depositing', 'withdraw withdrawing withdrawal'],
  ['hire hiring', 'fire firing'],
  ['arrive arriving arrival arrivals', 'depart departing departure departures'],
  ['advantages advantage pros benefits', 'disadvantages disadvantage cons drawbacks downsides'],
  ['positive', 'negative'],
  ['true', 'false'],
  ['above over', 'below under'],
  ['inside indoor indoors', 'outside outdoor outdoors'],
  ['plus add', 'minus subtract'],
  ['multiply', 'divide'],
  ['send sending', 'receive receiving'],
  ['borrow borrowing', 'lend lending'],
  ['credit', 'debit'],
  ['profit', 'loss'],
  ['inbound incoming', 'outbound outgoing'],
  ['ascending', 'descending'],
  ['include including', 'exclude excluding'],
  ['show', 'hide'],
  ['accept accepting', 'reject rejecting'],
  ['pass', 'fail'],
  ['wet', 'dry'],
  ['thick', 'thin'],
  ['strong stronger strongest', 'weak weaker weakest'],
  ['rich richer richest', 'poor poorer poorest'],
  ['full', 'empty'],
  ['male men man boy boys', 'female women woman girl girls'],
  ['morning', 'evening night'],
  ['summer', 'winter'],
  ['sunrise', 'sunset'],
  ['first', 'last'],
  ['next upcoming coming', 'last previous past'],
  ['merge merging join joining', 'split splitting'],
  ['boil boiling', 'freeze freezing'],
];
/** Word → the antonym pairs it belongs to, as 2 × pair + side (0 or 1). */
export const ANTONYM_INDEX = new Map<string, number[]>();
ANTONYMS.forEach((sides, pair) => {
  sides.forEach((words, side) => {
    for (const w of words.split(' ')) ANTONYM_INDEX.set(w, [...(ANTONYM_INDEX.get(w) ?? []), 2 * pair + side]);
  });
});

/** Per antonym pair and side, how often `a` says it minus how often `b` does. */
export function antonymBalance(words: readonly string[], sign: number, into: Map<number, number>): void {
  for (const w of words) for (const slot of ANTONYM_INDEX.get(w) ?? []) into.set(slot, (into.get(slot) ?? 0) + sign);
}

/** Antonym pairs whose sides the two questions exchange: one says "increase" where the other says "decrease". */
export function antonymExchanges(a: readonly string[], b: readonly string[]): number {
  const balance = new Map<number, number>();
  antonymBalance(a, 1, balance);
  antonymBalance(b, -1, balance);
  let n = 0;
  for (const [slot, d] of balance) {
    if (slot % 2 !== 0 || d === 0) continue;
    const other = balance.get(slot + 1) ?? 0;
    if ((d > 0 && other < 0) || (d < 0 && other > 0)) n++;
  }
  return n;
}

/** Words that make "X … Y" one-way: X to Y, X into Y, X than Y, X over Y. */
export const DIRECTIONAL = new Set(['to', 'into', 'than', 'over', '->']);
export const ARTICLES = new Set(['a', 'an', 'the']);

export const SWAP_WINDOW = 48;

export const same = (a: readonly string[], i: number, b: readonly string[], j: number, n: number) => {
  for (let k = 0; k < n; k++) if (a[i + k] !== b[j + k]) return false;
  return true;
};

/**
 * Whether `b` is `a` with two spans exchanged across a one-way word: "convert a list to a tuple" /
 * "convert a tuple to a list", "is tea healthier than coffee" / "is coffee healthier than tea",
 * "from Canada to the US" / "from the US to Canada". An exchange across "and", "or", "from",
 * "between" is not one ("17 and 25", "London and Tokyo", "Mars from Earth"). Only within a window of
 * SWAP_WINDOW words (the search is cubic in it).
 */
export function swapped(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  let p = 0;
  while (p < a.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const n = a.length - p - s;
  if (n < 3 || n > SWAP_WINDOW) return false;
  for (let lx = 1; lx < n - 1; lx++) {
    for (let ly = 1; lx + ly < n; ly++) {
      if (!same(a, p, b, p + n - lx, lx) || !same(a, p + n - ly, b, p, ly)) continue;
      if (!same(a, p + lx, b, p + ly, n - lx - ly)) continue;
      for (let k = p + lx; k < p + n - ly; k++) if (DIRECTIONAL.has(a[k]!)) return true;
    }
  }
  return false;
}

export type Role = 'src' | 'dst';
export const ENTITY_ROLE: Record<string, Role> = { from: 'src', to: 'dst', into: 'dst', than: 'dst', '->': 'dst' };
export const UNIT_ROLE: Record<string, Role> = { ...ENTITY_ROLE, in: 'dst' };

/**
 * Roles of names and units in a one-way question: after "from" a source, after "to/into/than" (and
 * "in" for units: "5 km in miles") a target, the others sources — only when the question has a target.
 */
export function roles(tokens: Token[], terms: readonly Term[], marks: Record<string, Role>): Map<string, Role> {
  const found: Array<[string, Role | undefined]> = [];
  for (const { key, at } of terms) {
    let j = at - 1;
    while (j >= 0) {
      const t = tokens[j]!;
      if (
        t.kind === 'num' ||
        ROLE_SKIP.has(t.low) ||
        (t.kind === 'sym' && t.low !== '->') ||
        UNITS.get(t.low)?.strength === 'numeric' ||
        numberWord(tokens, j) !== undefined
      )
        j--;
      else break;
    }
    found.push([key, marks[tokens[j]?.low ?? '']]);
  }
  const out = new Map<string, Role>();
  if (!found.some(([, r]) => r === 'dst')) return out;
  for (const [key, r] of found) if (!out.has(key)) out.set(key, r ?? 'src');
  return out;
}

export function roleConflict(a: Map<string, Role>, b: Map<string, Role>): boolean {
  for (const [k, r] of a) {
    const other = b.get(k);
    if (other !== undefined && other !== r) return true;
  }
  return false;
}
