/** Rule `entity`: names, dates and relative dates a question states, and whether the other mentions them. Part of the cache guard (src/cache/guard.ts). */

import { type Token, stem } from './tokens.js';
import type { Features } from '../guard.js';

/** Capitalised words that name nothing: function words of Title Case questions, pronouns, greetings. */
export const CAP_STOP = new Set(
  (
    'i me my you your we our it its this that these those the a an and or but if then so of to in on at by for with from into about as ' +
    'is are was were be been do does did can could should would will shall may might must have has had ' +
    'what how why when where who whom which whose please hi hello hey dear thanks thank ok okay yes no not mr mrs ms dr sir madam'
  ).split(' '),
);
export const WEEKDAYS: Array<[string, string]> = [
  ['monday', 'mon mondays'],
  ['tuesday', 'tue tues tuesdays'],
  ['wednesday', 'wednesdays'],
  ['thursday', 'thu thur thurs thursdays'],
  ['friday', 'fri fridays'],
  ['saturday', 'saturdays'],
  ['sunday', 'sundays'],
  ['january', 'jan'],
  ['february', 'feb'],
  ['april', 'apr'],
  ['june', 'jun'],
  ['july', 'jul'],
  ['august', 'aug'],
  ['september', 'sep sept'],
  ['october', 'oct'],
  ['november', 'nov'],
  ['december', 'dec'],
  ['today', 'tonight'],
  ['tomorrow', ''],
  ['yesterday', ''],
];
export const DATE_WORDS = new Map<string, string>();
for (const [canon, forms] of WEEKDAYS) for (const f of [canon, ...forms.split(' ').filter(Boolean)]) DATE_WORDS.set(f, canon);
/** Months that are also English words: dates only when capitalised mid-sentence or next to a number. */
export const AMBIGUOUS_MONTHS = new Set(['march', 'may']);

/** Relative dates: "this/next/last" + a period ("next weekend", "last year", "this Friday"), modifiers canonical. */
export const RELATIVE: Record<string, string> = { this: 'this', current: 'this', next: 'next', coming: 'next', upcoming: 'next', following: 'next', last: 'last', previous: 'last', past: 'last' };
export const PERIODS = new Set('day night morning evening week weekend month quarter year season semester term summer winter spring fall autumn decade century'.split(' '));

export const isUpper = (s: string) => s !== s.toLowerCase() && s === s.toUpperCase();
export const hasInnerCapital = (s: string) => /^\p{Ll}+\p{Lu}/u.test(s) || /^\p{Lu}\p{Ll}+\p{Lu}/u.test(s);

/**
 * Rule `entity`: the names of both questions must match as sets, case-insensitively. A name is a word
 * capitalised mid-sentence ("capital of France"), an all-caps acronym ("NASA", "IRA"), a word with an
 * inner capital ("iPhone"), minus CAP_STOP, units and dates; a possessive and a plural are dropped
 * ("Rome's", "PDFs"). Each name must occur in the other question as a word in any case (so "france"
 * typed in lower case matches), as its demonym ("German"/"Germany", "Canadian"/"Canada"), or, for an
 * acronym, as the initials of consecutive words ("BMI" = "body mass index", "UK" = "United Kingdom"); a
 * name of five letters or more also as a word one typo away ("Pyhton" = "Python").
 * Names typed in lower case on both sides are out of reach. Weekdays, months (March and May only when
 * capitalised mid-sentence or next to a number), today/tomorrow/yesterday and relative dates ("next
 * weekend", "last year", "this Friday"; RELATIVE, PERIODS) must match as sets and report `entity` too.
 */
export function extractEntities(tokens: Token[], units: ReadonlySet<number>): { entities: Map<string, boolean>; dates: Set<string> } {
  const entities = new Map<string, boolean>();
  const dates = new Set<string>();
  const words = tokens.filter((t) => t.kind === 'word' && /\p{L}/u.test(t.raw));
  const shouting = words.filter((t) => t.raw.length > 1 && isUpper(t.raw)).length * 2 > words.length;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'word') continue;
    const capitalised = /^\p{Lu}/u.test(t.raw);
    const relative = RELATIVE[t.low];
    const next = tokens[i + 1]?.low ?? '';
    const period = PERIODS.has(stem(next)) ? stem(next) : DATE_WORDS.get(next);
    if (relative && period) dates.add(`${relative} ${period}`);
    const date = DATE_WORDS.get(t.low);
    if (date) {
      dates.add(date);
      continue;
    }
    if (AMBIGUOUS_MONTHS.has(t.low)) {
      const nearNumber = tokens[i - 1]?.kind === 'num' || tokens[i + 1]?.kind === 'num';
      if ((capitalised && !t.start) || nearNumber) {
        dates.add(t.low);
        continue;
      }
    }
    if (units.has(i) || CAP_STOP.has(t.low) || shouting) continue;
    const acronym = t.raw.length > 1 && (isUpper(t.raw) || /^\p{Lu}{2,}s$/u.test(t.raw));
    if (acronym || hasInnerCapital(t.raw) || (capitalised && !t.start)) entities.set(stem(t.low), acronym);
  }
  return { entities, dates };
}

/** Where `words` spell the acronym by initials ("body mass index" for "bmi"), the index of the first word. */
export function initialsAt(acronym: string, words: readonly string[]): number {
  if (acronym.length < 2 || acronym.length > 6) return -1;
  for (let i = 0; i + acronym.length <= words.length; i++) {
    let k = 0;
    while (k < acronym.length && words[i + k]?.[0] === acronym[k]) k++;
    if (k === acronym.length) return i;
  }
  return -1;
}

/** [ending of the people/adjective, ending of the place]: German/Germany, Canadian/Canada, Japanese/Japan… */
export const DEMONYMS: Array<[string, string]> = [
  ['', 'y'],
  ['ian', 'a'],
  ['ian', 'y'],
  ['ian', ''],
  ['an', 'o'],
  ['an', 'e'],
  ['n', ''],
  ['ese', ''],
  ['ese', 'a'],
  ['ish', 'ey'],
  ['ish', 'en'],
  ['ish', 'and'],
];

/** Whether `words` hold a demonym of the place `name` or the place of the demonym `name`. */
export function demonymIn(name: string, words: ReadonlySet<string>): boolean {
  for (const [people, place] of DEMONYMS) {
    if (name.endsWith(people)) {
      const base = name.slice(0, name.length - people.length);
      if (base.length >= 4 && words.has(base + place)) return true;
    }
    if (name.endsWith(place)) {
      const base = name.slice(0, name.length - place.length);
      if (base.length >= 4 && words.has(base + people)) return true;
    }
  }
  return false;
}

/**
 * Whether `a` and `b` differ by one edit: a letter inserted, deleted, replaced, or two neighbours
 * swapped ("Pyhton"/"Python", "Zeland"/"Zealand"). Names of five letters or more only (unmentionedEntity):
 * "Iran"/"Iraq" stay apart, and so do "Austria"/"Australia" (two edits).
 */
export function oneEditApart(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1 || b.length < 4) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/** Stems of the words of `self` that spell out an acronym of `other` ("united", "kingdom" for "UK"). */
export function spelledOut(self: Features, other: Features): Set<string> {
  const out = new Set<string>();
  for (const [abbr, isAcronym] of other.entities) {
    if (!isAcronym) continue;
    const at = initialsAt(abbr, self.words);
    if (at >= 0) for (const w of self.words.slice(at, at + abbr.length)) out.add(stem(w));
  }
  return out;
}

/**
 * The names of `self` that `other` does not mention: as a word (plural or not), as a demonym, as the
 * initials of an acronym, or as a word of a name it abbreviates ("United Kingdom" where it says "UK").
 */
export function unmentionedEntity(self: Features, other: Features): boolean {
  let spelled: Set<string> | undefined;
  for (const [name, acronym] of self.entities) {
    if (other.stemSet.has(name) || demonymIn(name, other.stemSet)) continue;
    if (!acronym && name.length >= 5 && [...other.stemSet].some((w) => oneEditApart(name, w))) continue;
    if (acronym && initialsAt(name, other.words) >= 0) continue;
    spelled ??= spelledOut(self, other);
    if (!spelled.has(name)) return true;
  }
  return false;
}
