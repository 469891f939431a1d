/**
 * The semantic cache's lexical guard: a vector hit says two questions are about the same thing, not that
 * they ask the same thing. Sentence embeddings place "convert 5 km to miles" and "convert 50 km to
 * miles", "is it safe" and "is it not safe", "USD to EUR" and "EUR to USD" almost on top of each other,
 * so after a similarity hit `guardMatch` compares what embeddings blur — numbers, negation, names,
 * units, language and direction — and vetoes the hit when they differ.
 *
 * Every rule leans towards letting a true paraphrase through (a false veto costs one model call, a
 * false hit serves a wrong answer, but a guard that vetoes paraphrases makes the cache useless): where a
 * rule extracts something strictly from one side, it only asks the other side to *mention* it
 * somewhere, in any form. Pure string work, no I/O: ~20 µs per call for two questions analysed from
 * scratch (test/eval/cache.mjs measures it), linear in their length (~3 µs per word).
 * Measured on test/fixtures/cache-pairs.jsonl by test/eval/cache.mjs — a set the rules were tuned on,
 * so its zero false vetoes are optimistic; fresh paraphrases were vetoed at ~8%.
 */

export type GuardReason = 'number' | 'negation' | 'entity' | 'unit' | 'language' | 'direction';

export interface GuardVerdict {
  ok: boolean;
  reason?: GuardReason;
}

// ---------------------------------------------------------------- tokens

interface Token {
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

const TOKEN_RE = /(\d+(?:[.,:]\d+)*)|([\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*['’]?)|(->|→|[$€£¥₹%°^/])|([.?!;:¿¡]+)/gu;

/** English clitics dropped from a word ("what's" → what, "France's" → France, "I'm" → I). */
const CLITICS = new Set(['s', 'm', 're', 've', 'll', 'd']);
const NT_BASE: Record<string, string> = { ca: 'can', wo: 'will', sha: 'shall', ai: 'am' };

/** Rewrites a few multi-token spellings into one token before tokenising. */
const PRE: Array<[RegExp, string]> = [
  [/\bkm\s*\/\s*hr?\b|\bkilomet(?:er|re)s?\s+(?:per|an|a)\s+hour\b/gi, ' kph '],
  [/\bmi\s*\/\s*hr?\b|\bmiles?\s+(?:per|an|a)\s+hour\b/gi, ' mph '],
  [/\bm\s*\/\s*s\b|\bmet(?:er|re)s?\s+(?:per|a)\s+second\b/gi, ' mps '],
  [/\bper\s+cent\b/gi, ' percent '],
  [/\b([ap])\.\s?m\.?(?=\s|$|[,;!?])/gi, '$1m'],
  [/\bfl(?:uid)?\.?\s*(?:oz|ounces?)\b/gi, ' oz '],
  [/\bno\s+one\b/gi, ' nobody '],
];

/** Cheap test for whether any PRE rewrite could apply. */
const PRE_HINT = /\/|per|our|fl|\.m|no\s+one/i;

function tokenize(text: string): Token[] {
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
function splitWord(w: string): Array<{ raw: string; negated?: boolean }> {
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

// ---------------------------------------------------------------- numbers

/**
 * "1,000" → 1000, "5.0" → 5, "3:00" → 3, "3:30" stays, "1.2.3" (a version) stays as written.
 */
function canonicalNumber(s: string): string {
  if (/^\d{1,3}(,\d{3})+$/.test(s)) return String(Number(s.replace(/,/g, '')));
  if (/^\d{1,3}(\.\d{3}){2,}$/.test(s)) return String(Number(s.replace(/\./g, '')));
  if (/^\d+(\.\d+)?$/.test(s)) return String(Number(s));
  if (/^\d{1,2}:\d{2}$/.test(s)) return s.endsWith(':00') ? String(Number(s.slice(0, -3))) : s.replace(/^0(\d)/, '$1');
  return s;
}

const SMALL = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const TEENS = ['thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const ORDINALS = ['third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth'];
const NUMBER_WORDS = new Map<string, number>([
  ...SMALL.map((w, i) => [w, i] as [string, number]),
  ...TEENS.map((w, i) => [w, 13 + i] as [string, number]),
  ...TENS.map((w, i) => [w, 20 + 10 * i] as [string, number]),
  ...ORDINALS.map((w, i) => [w, 3 + i] as [string, number]),
  ...TEENS.map((w, i) => [`${w}th`, 13 + i] as [string, number]),
  ['twentieth', 20],
  ['half', 0.5],
]);
const SCALES = new Map<string, number>([
  ['dozen', 12],
  ['hundred', 100],
  ['thousand', 1e3],
  ['million', 1e6],
  ['billion', 1e9],
  ['trillion', 1e12],
]);
/** "one" is a pronoun after these ("which one", "no one", "how one reverts", "can one") and before "of"/"another". */
const ONE_PRONOUN_BEFORE = new Set(
  'which this that each every any some the no a an other right wrong new old good best how can could should would does do may might must where when if why will'.split(' '),
);
const ORDINAL_SUFFIX = new Set(['st', 'nd', 'rd', 'th', 's']);

const numberWord = (tokens: Token[], i: number): number | undefined => {
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
function extractNumbers(tokens: Token[], used: Set<number>): string[] {
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

// ---------------------------------------------------------------- negation

const NEGATORS = new Set(['not', 'no', 'never', 'none', 'nobody', 'nothing', 'nowhere', 'neither', 'without', 'cannot', 'nope', 'nor']);
const BARE_NT = new Set('dont doesnt didnt cant wont isnt arent wasnt werent shouldnt couldnt wouldnt havent hasnt hadnt aint mustnt neednt'.split(' '));
const NEG_PREFIXES = ['un', 'in', 'im', 'il', 'ir', 'dis', 'non'];
/** Prefixed words that are negations whatever the other question says ("unable" = "can't"). */
const NEG_WORDS = new Set(
  'unable impossible illegal unsafe unnecessary unlikely incorrect invalid unavailable unhealthy nonexistent impolite unsure'.split(' '),
);
/** "say no" names an answer, it negates nothing. */
const SAY = new Set(['say', 'says', 'saying', 'said']);
/**
 * Politeness and hedging formulas whose negation is not part of the question: "if you don't mind",
 * "if it's not too much trouble", "I'm not sure how…", "I don't know how…", "no worries". "do" stands
 * for "don't" (split into "do" + a negation mark) and its bare spelling "dont".
 */
const IDIOMS: readonly (readonly string[])[] = [
  ['do', 'mind'],
  ['not', 'too', 'much', 'trouble'],
  ['no', 'problem'],
  ['no', 'worries'],
  ['no', 'rush'],
  ['not', 'sure'],
  ['do', 'know'],
];

/** The length of the politeness formula starting at `words[i]`, or 0. */
function idiomAt(words: readonly Token[], i: number): number {
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
function negationCount(words: readonly Token[], otherWords: ReadonlySet<string>): number {
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

// ---------------------------------------------------------------- units

/** How sure a surface form is to be a unit: anywhere; after a number or "many/much/per/in a/to"; only right after a number. */
type UnitStrength = 'strong' | 'weak' | 'numeric';

const UNIT_TABLE: Array<[UnitStrength, string, string]> = [
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
const UNITS = new Map<string, { canon: string; strength: UnitStrength }>();
const UNIT_FORMS = new Map<string, string[]>();
for (const [strength, canon, forms] of UNIT_TABLE) {
  for (const f of forms.split(' ')) {
    UNITS.set(f, { canon, strength });
    if (f.length >= 5) UNIT_FORMS.set(canon, [...(UNIT_FORMS.get(canon) ?? []), f]);
  }
}
const WEAK_UNIT_CUES = new Set(['many', 'much', 'per', 'into', 'to', 'each', 'every']);
const AREA = new Map([
  ['square', 'sq'],
  ['sq', 'sq'],
  ['cubic', 'cu'],
  ['cu', 'cu'],
]);
/** Words skipped when looking for the word that marks a term's role ("in a mile", "to 100 degrees F"). */
const ROLE_SKIP = new Set('a an the one my your our their his her its some degree degrees ° square sq cubic'.split(' '));

interface Term {
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
function extractUnits(tokens: Token[], used: ReadonlySet<number>): { strict: Term[]; mentions: Set<string> } {
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

function unitMentioned(unit: string, other: Features): boolean {
  if (other.unitMentions.has(unit)) return true;
  const base = unit.replace(/^(sq|cu) /, '');
  if (base !== unit && other.unitMentions.has(base)) return true;
  const forms = UNIT_FORMS.get(base);
  if (!forms) return false;
  for (const w of other.wordSet) if (w.length >= 5 && forms.some((f) => withinOneEdit(w, f))) return true;
  return false;
}

// ---------------------------------------------------------------- entities and dates

/** Capitalised words that name nothing: function words of Title Case questions, pronouns, greetings. */
const CAP_STOP = new Set(
  (
    'i me my you your we our it its this that these those the a an and or but if then so of to in on at by for with from into about as ' +
    'is are was were be been do does did can could should would will shall may might must have has had ' +
    'what how why when where who whom which whose please hi hello hey dear thanks thank ok okay yes no not mr mrs ms dr sir madam'
  ).split(' '),
);
const WEEKDAYS: Array<[string, string]> = [
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
const DATE_WORDS = new Map<string, string>();
for (const [canon, forms] of WEEKDAYS) for (const f of [canon, ...forms.split(' ').filter(Boolean)]) DATE_WORDS.set(f, canon);
/** Months that are also English words: dates only when capitalised mid-sentence or next to a number. */
const AMBIGUOUS_MONTHS = new Set(['march', 'may']);

/** Relative dates: "this/next/last" + a period ("next weekend", "last year", "this Friday"), modifiers canonical. */
const RELATIVE: Record<string, string> = { this: 'this', current: 'this', next: 'next', coming: 'next', upcoming: 'next', following: 'next', last: 'last', previous: 'last', past: 'last' };
const PERIODS = new Set('day night morning evening week weekend month quarter year season semester term summer winter spring fall autumn decade century'.split(' '));

const isUpper = (s: string) => s !== s.toLowerCase() && s === s.toUpperCase();
const hasInnerCapital = (s: string) => /^\p{Ll}+\p{Lu}/u.test(s) || /^\p{Lu}\p{Ll}+\p{Lu}/u.test(s);

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
function extractEntities(tokens: Token[], units: ReadonlySet<number>): { entities: Map<string, boolean>; dates: Set<string> } {
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
function initialsAt(acronym: string, words: readonly string[]): number {
  if (acronym.length < 2 || acronym.length > 6) return -1;
  for (let i = 0; i + acronym.length <= words.length; i++) {
    let k = 0;
    while (k < acronym.length && words[i + k]?.[0] === acronym[k]) k++;
    if (k === acronym.length) return i;
  }
  return -1;
}

/** [ending of the people/adjective, ending of the place]: German/Germany, Canadian/Canada, Japanese/Japan… */
const DEMONYMS: Array<[string, string]> = [
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
function demonymIn(name: string, words: ReadonlySet<string>): boolean {
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
function oneEditApart(a: string, b: string): boolean {
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
function spelledOut(self: Features, other: Features): Set<string> {
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
function unmentionedEntity(self: Features, other: Features): boolean {
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

// ---------------------------------------------------------------- direction

const ANTONYMS: Array<[string, string]> = [
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
const ANTONYM_INDEX = new Map<string, number[]>();
ANTONYMS.forEach((sides, pair) => {
  sides.forEach((words, side) => {
    for (const w of words.split(' ')) ANTONYM_INDEX.set(w, [...(ANTONYM_INDEX.get(w) ?? []), 2 * pair + side]);
  });
});

/** Per antonym pair and side, how often `a` says it minus how often `b` does. */
function antonymBalance(words: readonly string[], sign: number, into: Map<number, number>): void {
  for (const w of words) for (const slot of ANTONYM_INDEX.get(w) ?? []) into.set(slot, (into.get(slot) ?? 0) + sign);
}

/** Antonym pairs whose sides the two questions exchange: one says "increase" where the other says "decrease". */
function antonymExchanges(a: readonly string[], b: readonly string[]): number {
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
const DIRECTIONAL = new Set(['to', 'into', 'than', 'over', '->']);
const ARTICLES = new Set(['a', 'an', 'the']);
const IRREGULAR: Record<string, string> = { feet: 'foot', teeth: 'tooth', men: 'man', women: 'woman', children: 'child', mice: 'mouse' };

function stem(w: string): string {
  const irregular = IRREGULAR[w];
  if (irregular) return irregular;
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (w.length > 4 && /(s|x|z|ch|sh)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1);
  return w;
}

const SWAP_WINDOW = 48;

const same = (a: readonly string[], i: number, b: readonly string[], j: number, n: number) => {
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
function swapped(a: readonly string[], b: readonly string[]): boolean {
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

type Role = 'src' | 'dst';
const ENTITY_ROLE: Record<string, Role> = { from: 'src', to: 'dst', into: 'dst', than: 'dst', '->': 'dst' };
const UNIT_ROLE: Record<string, Role> = { ...ENTITY_ROLE, in: 'dst' };

/**
 * Roles of names and units in a one-way question: after "from" a source, after "to/into/than" (and
 * "in" for units: "5 km in miles") a target, the others sources — only when the question has a target.
 */
function roles(tokens: Token[], terms: readonly Term[], marks: Record<string, Role>): Map<string, Role> {
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

function roleConflict(a: Map<string, Role>, b: Map<string, Role>): boolean {
  for (const [k, r] of a) {
    const other = b.get(k);
    if (other !== undefined && other !== r) return true;
  }
  return false;
}

// ---------------------------------------------------------------- language

const STOPWORDS: Record<string, string> = {
  en: 'a the is are was were what how why when where who which do does did i you my your of and to in it can for with this that should be there will would could have has me from on at or much many get',
  fr: "le la les est et de des du un une que qui quoi quel quelle quels quelles comment pourquoi où je tu il elle nous vous mon ma mes ton ta pour dans sur avec ce cette c' l' d' qu' j' n' s' pas puis combien faire au aux ne sont était va demain aujourd'hui",
  es: 'el la los las es y de que qué cómo como cuál cuáles cuánto cuántos cuántas dónde por para con un una mi mis tu yo del al se son está hay tiene puedo puede llego hoy mañana',
  de: 'der die das ist und wie was wo wer ich du es ein eine einen einem mein meine nicht mit für zu den dem des im in auf hat sind spät viele kann warum welche welcher wann',
  it: "il lo gli le è e di che come cosa dove quando perché un una mio mia per con su si sono della del dello degli posso quanto quanti fa l' c'è",
  pt: 'o a os as é e de que como onde quando por para com um uma meu minha do da dos das em no na qual quanto quantas quantos está são pode posso você tem hoje bom',
};
const STOP_SETS = Object.entries(STOPWORDS).map(([lang, words]) => [lang, new Set(words.split(' '))] as const);
const ASCII = /^[\x00-\x7f]*$/;
const SCRIPTS: Array<[string, RegExp]> = [
  ['latin', /\p{Script=Latin}/gu],
  ['cyrillic', /\p{Script=Cyrillic}/gu],
  ['greek', /\p{Script=Greek}/gu],
  ['han', /\p{Script=Han}/gu],
  ['kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/gu],
  ['hangul', /\p{Script=Hangul}/gu],
  ['arabic', /\p{Script=Arabic}/gu],
  ['hebrew', /\p{Script=Hebrew}/gu],
  ['devanagari', /\p{Script=Devanagari}/gu],
  ['thai', /\p{Script=Thai}/gu],
];

/**
 * Rule `language`: questions in different languages never match (the answer would be in the wrong
 * one). The script decides first (Latin, Cyrillic, Greek, Chinese, Japanese — kana present —, Korean,
 * Arabic, Hebrew, Devanagari, Thai); within Latin script, the most frequent stopwords of en, fr, es,
 * de, it, pt, not counting capitalised names ("Los Angeles", "Rio de Janeiro"). A question too short to
 * tell (fewer than two stopwords of its best language, or a tie) matches any language of its script.
 */
function detectLanguage(text: string, tokens: Token[]): string | undefined {
  let best = '';
  let bestCount = 0;
  if (ASCII.test(text)) {
    if (!/[a-z]/i.test(text)) return undefined;
    best = 'latin';
    bestCount = 1;
  } else
    for (const [script, re] of SCRIPTS) {
      const n = text.match(re)?.length ?? 0;
      if (n > bestCount) {
        best = script;
        bestCount = n;
      }
    }
  if (bestCount === 0) return undefined;
  if (best === 'han' && /[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(text)) return 'kana';
  if (best !== 'latin') return best;
  const scores = STOP_SETS.map(([lang, set]) => {
    let n = 0;
    for (const t of tokens) if (t.kind === 'word' && (t.start || CAP_STOP.has(t.low) || !/^\p{Lu}/u.test(t.raw)) && set.has(t.low)) n++;
    return [lang, n] as const;
  }).sort((x, y) => y[1] - x[1]);
  const [first, second] = scores;
  if (!first || first[1] < 2 || first[1] === second?.[1]) return 'latin';
  return `latin:${first[0]}`;
}

function languagesDiffer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a === b) return false;
  const [sa, la] = a.split(':');
  const [sb, lb] = b.split(':');
  if (sa !== sb) return true;
  return la !== undefined && lb !== undefined && la !== lb;
}

// ---------------------------------------------------------------- features and verdict

interface Features {
  tokens: Token[];
  language: string | undefined;
  /** Lower-case words, in order. */
  words: string[];
  wordSet: Set<string>;
  /** `stem` of every word. */
  stemSet: Set<string>;
  numbers: string[];
  units: Term[];
  unitMentions: Set<string>;
  entities: Map<string, boolean>;
  entityTerms: Term[];
  dates: Set<string>;
  /** Stems of words and numbers without articles, for the swap test. */
  stems: string[];
}

function features(text: string): Features {
  const tokens = tokenize(text.normalize('NFC'));
  const used = new Set<number>();
  const numbers = extractNumbers(tokens, used);
  const { strict, mentions } = extractUnits(tokens, used);
  const unitAt = new Set(strict.map((u) => u.at));
  for (let i = 0; i < tokens.length; i++) if (UNITS.get(tokens[i]!.low)?.strength === 'strong') unitAt.add(i);
  const { entities, dates } = extractEntities(tokens, unitAt);
  const words: string[] = [];
  const stems: string[] = [];
  const entityTerms: Term[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'word') {
      words.push(t.low);
      if (!ARTICLES.has(t.low)) stems.push(stem(t.low));
      if (entities.has(stem(t.low))) entityTerms.push({ key: stem(t.low), at: i });
    } else if (t.kind === 'num') stems.push(t.low);
    else if (t.low === '->') stems.push('to');
  }
  return {
    tokens,
    language: detectLanguage(text, tokens),
    words,
    wordSet: new Set(words),
    stemSet: new Set(words.map(stem)),
    numbers,
    units: strict,
    unitMentions: mentions,
    entities,
    entityTerms,
    dates,
    stems,
  };
}

const ONE_WORDS = new Set(['a', 'an', 'per', 'each', 'every', 'first', 'single']);

/** Equal multisets, but for 1s one question states and the other says with a word of ONE_WORDS. */
function numbersMatch(a: Features, b: Features): boolean {
  const count = new Map<string, number>();
  for (const n of a.numbers) count.set(n, (count.get(n) ?? 0) + 1);
  for (const n of b.numbers) count.set(n, (count.get(n) ?? 0) - 1);
  let aExtra = false;
  let bExtra = false;
  for (const [n, c] of count) {
    if (c === 0) continue;
    if (n !== '1') return false;
    if (c > 0) aExtra = true;
    else bExtra = true;
  }
  if (!aExtra && !bExtra) return true;
  return (aExtra ? b : a).words.some((w) => ONE_WORDS.has(w));
}
const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x));

/**
 * Rule `direction`: the questions must not point opposite ways. Either order flips — the same names or
 * units swap roles ("USD to EUR" / "EUR to USD", "from London to Paris" / "from Paris to London", see
 * `roles`) or two spans swap across to/into/than/over (`swapped`) — or antonyms are exchanged
 * ("increase"/"decrease", "faster"/"slower", "turn on"/"turn off"; ANTONYMS). One flip of each kind
 * together is the converse and matches: "Is Python faster than Java?" = "Is Java slower than Python?".
 */
function directionFlips(a: Features, b: Features): boolean {
  const orderFlip =
    roleConflict(roles(a.tokens, a.units, UNIT_ROLE), roles(b.tokens, b.units, UNIT_ROLE)) ||
    roleConflict(roles(a.tokens, a.entityTerms, ENTITY_ROLE), roles(b.tokens, b.entityTerms, ENTITY_ROLE)) ||
    swapped(a.stems, b.stems);
  const exchanges = antonymExchanges(a.words, b.words);
  if (exchanges === 0) return orderFlip;
  return !(exchanges === 1 && orderFlip);
}

/**
 * Whether a cached question `cached` may answer `incoming` (already similar by embedding). Symmetric.
 * Rules in order — language, number, negation, unit, entity (names and dates), direction — the first
 * that fails is the reason.
 */
export function guardMatch(incoming: string, cached: string): GuardVerdict {
  if (incoming === cached) return { ok: true };
  const a = features(incoming);
  const b = features(cached);
  if (languagesDiffer(a.language, b.language)) return { ok: false, reason: 'language' };
  if (!numbersMatch(a, b)) return { ok: false, reason: 'number' };
  const aWords = a.tokens.filter((t) => t.kind === 'word');
  const bWords = b.tokens.filter((t) => t.kind === 'word');
  if (negationCount(aWords, b.wordSet) % 2 !== negationCount(bWords, a.wordSet) % 2) return { ok: false, reason: 'negation' };
  const pairs = [
    [a, b],
    [b, a],
  ] as const;
  if (a.units.length > 0 && b.units.length > 0) {
    for (const [x, y] of pairs) for (const u of x.units) if (!unitMentioned(u.key, y)) return { ok: false, reason: 'unit' };
  }
  if (unmentionedEntity(a, b) || unmentionedEntity(b, a)) return { ok: false, reason: 'entity' };
  if (!sameSet(a.dates, b.dates)) return { ok: false, reason: 'entity' };
  if (directionFlips(a, b)) return { ok: false, reason: 'direction' };
  return { ok: true };
}

/** One Damerau (optimal string alignment) edit apart, or equal. */
function withinOneEdit(a: string, b: string): boolean {
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
