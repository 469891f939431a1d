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

import { type Token, stem, tokenize } from './guard/tokens.js';
import { extractNumbers } from './guard/numbers.js';
import { negationCount } from './guard/negation.js';
import { type Term, UNITS, extractUnits, unitMentioned } from './guard/units.js';
import { extractEntities, unmentionedEntity } from './guard/entities.js';
import { ARTICLES, ENTITY_ROLE, UNIT_ROLE, antonymExchanges, roleConflict, roles, swapped } from './guard/direction.js';
import { detectLanguage, languagesDiffer } from './guard/language.js';

export type GuardReason = 'number' | 'negation' | 'entity' | 'unit' | 'language' | 'direction';

export interface GuardVerdict {
  ok: boolean;
  reason?: GuardReason;
}

export interface Features {
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
