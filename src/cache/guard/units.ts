/** Rule `unit`: the units a question states, and which it merely mentions. Part of the cache guard (src/cache/guard.ts). */

import { type Token, withinOneEdit } from './tokens.js';
import { numberWord } from './numbers.js';
import type { Features } from '../guard.js';

/** How sure a surface form is to be a unit: anywhere; after a number or "many/much/per/in a/to"; only right after a number. */
export type UnitStrength = 'strong' | 'weak' | 'numeric';

export const UNIT_TABLE: Array<[UnitStrength, string, string]> = [
  ['strong', 'km', 'km kms kilometer kilometers kilometre kilometres'],
  ['strong', 'mile', 'mile miles'],
  ['numeric', 'mile', 'mi'],
  ['strong', 'm', 'meter meters metre metres'],
  ['numeric', 'm', 'm'],
  ['strong', 'cm', 'cm cms centimeter centimeters centimetre centimetres'],
  ['strong', 'mm', 'mm millimeter millimeters millimetre millimetres'],
  ['strong', 'inch', 'inch inches'],
  ['strong', 'foot', 'foot feet ft'],
  ['strong', 'yard', 'yard yards yd yds'],
  ['strong', 'kg', 'kg kgs kilogram kilograms kilo kilos'],
  ['strong', 'g', 'gram grams gramme grammes'],
  ['numeric', 'g', 'g gr'],
  ['strong', 'mg', 'mg milligram milligrams'],
  ['strong', 'ounce', 'ounce ounces oz'],
  ['strong', 'pound', 'lb lbs pound pounds £ gbp sterling quid'],
  ['weak', 'stone', 'stone stones st'],
  ['strong', 'ton', 'ton tons tonne tonnes'],
  ['strong', 'l', 'liter liters litre litres'],
  ['numeric', 'l', 'l'],
  ['strong', 'ml', 'ml milliliter milliliters millilitre millilitres'],
  ['strong', 'gallon', 'gallon gallons gal'],
  ['strong', 'quart', 'quart quarts qt'],
  ['strong', 'pint', 'pint pints'],
  ['numeric', 'pint', 'pt'],
  ['weak', 'cup', 'cup cups'],
  ['strong', 'tbsp', 'tablespoon tablespoons tbsp tbs'],
  ['strong', 'tsp', 'teaspoon teaspoons tsp'],
  ['strong', 'c', 'celsius centigrade'],
  ['numeric', 'c', 'c'],
  ['strong', 'f', 'fahrenheit'],
  ['numeric', 'f', 'f'],
  ['strong', 'kelvin', 'kelvin'],
  ['strong', 'mph', 'mph'],
  ['strong', 'kph', 'kph kmh'],
  ['strong', 'mps', 'mps'],
  ['weak', 'knot', 'knot knots kn'],
  ['strong', 'kb', 'kb kilobyte kilobytes'],
  ['strong', 'mb', 'mb megabyte megabytes'],
  ['strong', 'gb', 'gb gigabyte gigabytes'],
  ['strong', 'tb', 'tb terabyte terabytes'],
  ['strong', 'mbps', 'mbps'],
  ['strong', 'gbps', 'gbps'],
  ['weak', 'byte', 'byte bytes'],
  ['strong', 'kwh', 'kwh'],
  ['weak', 'watt', 'watt watts'],
  ['numeric', 'watt', 'w'],
  ['weak', 'calorie', 'calorie calories kcal cal cals'],
  ['strong', 'joule', 'joule joules kj'],
  ['strong', 'acre', 'acre acres'],
  ['strong', 'hectare', 'hectare hectares'],
  ['numeric', 'hectare', 'ha'],
  ['weak', 'second', 'second seconds sec secs'],
  ['weak', 'minute', 'minute minutes min mins'],
  ['weak', 'hour', 'hour hours hr hrs'],
  ['numeric', 'hour', 'h'],
  ['weak', 'day', 'day days daily'],
  ['weak', 'week', 'week weeks weekly'],
  ['weak', 'month', 'month months monthly'],
  ['weak', 'year', 'year years yr yrs yearly annual annually'],
  ['numeric', 'am', 'am'],
  ['numeric', 'pm', 'pm'],
  ['strong', 'percent', '% percent'],
  ['strong', 'usd', '$ usd dollar dollars buck bucks'],
  ['strong', 'eur', '€ eur euro euros'],
  ['strong', 'jpy', '¥ jpy yen'],
  ['strong', 'cny', 'cny rmb yuan renminbi'],
  ['strong', 'inr', '₹ inr rupee rupees'],
  ['strong', 'chf', 'chf franc francs'],
  ['strong', 'mxn', 'mxn peso pesos'],
  ['strong', 'btc', 'btc bitcoin bitcoins'],
  ['strong', 'eth', 'eth ether ethereum'],
  ...'cad aud nzd krw sek nok dkk hkd sgd zar brl'.split(' ').map((c) => ['strong', c, c] as [UnitStrength, string, string]),
  ...'est edt cst cdt mst mdt pst pdt gmt utc cet cest ist jst bst aest aedt hst akst'
    .split(' ')
    .map((z) => ['strong', z, z] as [UnitStrength, string, string]),
];
export const UNITS = new Map<string, { canon: string; strength: UnitStrength }>();
export const UNIT_FORMS = new Map<string, string[]>();
for (const [strength, canon, forms] of UNIT_TABLE) {
  for (const f of forms.split(' ')) {
    UNITS.set(f, { canon, strength });
    if (f.length >= 5) UNIT_FORMS.set(canon, [...(UNIT_FORMS.get(canon) ?? []), f]);
  }
}
export const WEAK_UNIT_CUES = new Set(['many', 'much', 'per', 'into', 'to', 'each', 'every']);
export const AREA = new Map([
  ['square', 'sq'],
  ['sq', 'sq'],
  ['cubic', 'cu'],
  ['cu', 'cu'],
]);
/** Words skipped when looking for the word that marks a term's role ("in a mile", "to 100 degrees F"). */
export const ROLE_SKIP = new Set('a an the one my your our their his her its some degree degrees ° square sq cubic'.split(' '));

export interface Term {
  key: string;
  at: number;
}

/**
 * Rule `unit`: when both questions state units, they must match — each unit one states (a unit word,
 * a currency code or sign, a time zone, "%") must be mentioned by the other in some spelling ("km" =
 * "kilometres", "$" = "dollars" = "USD", "°F" = "100F" = "fahrenheit"; "£", "GBP", "pounds" and "lb"
 * are one unit, as the words are; a one-letter typo of a long form is tolerated). Ambiguous words count as stated only in a quantity: time words and "cup" after
 * a number or "many/much/per/in a/to"; single letters ("m", "c", "f") right after a number. A question
 * that states no unit is vaguer, not different ("how long to cook pasta" / "how many minutes…").
 */
export function extractUnits(tokens: Token[], used: ReadonlySet<number>): { strict: Term[]; mentions: Set<string> } {
  const strict: Term[] = [];
  const mentions = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (used.has(i) || (t.kind !== 'word' && t.kind !== 'sym')) continue;
    const u = UNITS.get(t.low);
    if (!u) continue;
    const prefix = AREA.get(tokens[i - 1]?.low ?? '');
    const canon = prefix ? `${prefix} ${u.canon}` : u.canon;
    mentions.add(u.canon);
    mentions.add(canon);
    let prev = i - 1;
    if (prefix) prev--;
    while (prev >= 0 && (tokens[prev]!.low === 'a' || tokens[prev]!.low === 'an' || tokens[prev]!.low === 'one')) prev--;
    const before = tokens[prev];
    const afterNumber = before?.kind === 'num' || (before !== undefined && numberWord(tokens, prev) !== undefined) || before?.low === '°';
    let counts = u.strength === 'strong' || afterNumber;
    if (!counts && u.strength === 'weak') {
      const cue = before?.low ?? '';
      counts = WEAK_UNIT_CUES.has(cue) || (cue === 'in' && prev < i - 1);
    }
    if (!counts && u.strength === 'numeric' && (u.canon === 'c' || u.canon === 'f')) counts = before?.low === 'degrees' || before?.low === 'degree';
    if (counts) strict.push({ key: canon, at: i });
  }
  return { strict, mentions };
}

export function unitMentioned(unit: string, other: Features): boolean {
  if (other.unitMentions.has(unit)) return true;
  const base = unit.replace(/^(sq|cu) /, '');
  if (base !== unit && other.unitMentions.has(base)) return true;
  const forms = UNIT_FORMS.get(base);
  if (!forms) return false;
  for (const w of other.wordSet) if (w.length >= 5 && forms.some((f) => withinOneEdit(w, f))) return true;
  return false;
}
