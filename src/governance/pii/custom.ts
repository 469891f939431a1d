/**
 * A deployment's own patterns, compiled once at start-up.
 *
 * JavaScript regexes run to completion on the event loop: there is no time budget to give one, and a
 * pattern with nested quantifiers (`(a+)+`, `(\w+\s?)*`) can take exponential time on a crafted
 * message and stall every request of the process. A worker thread with a timeout would cost a copy
 * of every text; a linear-time engine (RE2) would be a native dependency. So patterns are kept simple
 * instead, and refused at start-up when they are not: at most MAX_PATTERN_LENGTH characters, no
 * quantified group that itself contains a quantifier, no backreferences, no lookbehind, no anchors
 * (the pattern is searched for inside free text; `^`/`$` would only make it miss, `\b` is fine), and no match of
 * the empty string. This is a screen, not a proof of linear time: a reviewer still reads each pattern.
 */
import type { CustomPattern, PiiMode } from './types.js';

/** Long enough for any id format ("[A-Z]{2}-\d{4}-\d{6}" is 19), short enough to be read in review. */
export const MAX_PATTERN_LENGTH = 200;
/** The tag is built from the name (`[EMPLOYEE_ID]`, `<PII_EMPLOYEE_ID_1>`), so it must be a plain identifier. */
const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;
/** `g` and `y` are the scanner's business; `d` and `v` change nothing useful here. */
const ALLOWED_FLAGS = /^[imsu]*$/;

export interface CompiledPattern {
  readonly name: string;
  readonly re: RegExp;
  readonly mode: PiiMode | undefined;
}

export class CustomPatternError extends Error {
  constructor(
    readonly patternName: string,
    message: string,
  ) {
    super(`pii.custom "${patternName}": ${message}`);
    this.name = 'CustomPatternError';
  }
}

/** What in `pattern` makes it unsafe or useless, or undefined. Walks the source once, tracking classes and groups. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'the pattern is empty';
  if (pattern.length > MAX_PATTERN_LENGTH) return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  // One entry per open group: whether a quantifier occurred inside it.
  const groups: boolean[] = [];
  let inClass = false;
  let lastGroupHadQuantifier = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (!inClass && /[1-9k]/.test(next)) return 'backreferences are not allowed';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
      continue;
    }
    if (c === '^' || c === '$') return 'anchors (^, $) are not allowed: the pattern is searched inside free text (\\b is fine)';
    if (c === '(') {
      if (pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) return 'lookbehind is not allowed';
      groups.push(false);
      continue;
    }
    if (c === ')') {
      lastGroupHadQuantifier = groups.pop() ?? false;
      // A group that contains a quantifier counts as one for its enclosing group.
      if (lastGroupHadQuantifier && groups.length > 0) groups[groups.length - 1] = true;
      // `(…)?` runs at most once; `*`, `+` or `{n,m}` on a group with a quantifier inside nests them.
      const q = pattern[i + 1];
      if (lastGroupHadQuantifier && (q === '*' || q === '+' || q === '{')) {
        return 'a quantified group contains a quantifier (nested quantifiers can take exponential time)';
      }
      continue;
    }
    if ((c === '*' || c === '+' || c === '{' || c === '?') && groups.length > 0) {
      // `(?:`, `(?=`, `(?<name>` are group syntax, not quantifiers.
      if (!(c === '?' && pattern[i - 1] === '(')) groups[groups.length - 1] = true;
    }
  }
  return undefined;
}

/** Validates and compiles one pattern; throws CustomPatternError naming what to fix. */
export function compilePattern(p: CustomPattern): CompiledPattern {
  if (!NAME_RE.test(p.name)) throw new CustomPatternError(p.name, 'the name must be lower-case letters, digits and _ (at most 32), starting with a letter');
  const flags = p.flags ?? '';
  if (!ALLOWED_FLAGS.test(flags)) throw new CustomPatternError(p.name, `flags may only be i, m, s, u (got "${flags}")`);
  const problem = patternProblem(p.pattern);
  if (problem) throw new CustomPatternError(p.name, problem);
  let re: RegExp;
  try {
    re = new RegExp(p.pattern, `${flags}g`);
  } catch (err) {
    throw new CustomPatternError(p.name, `the pattern does not compile: ${(err as Error).message}`);
  }
  // Matching the empty string would report nothing (the scanner skips empty matches) while costing a
  // step per character; it is always a mistake (`\d*`, `a|`).
  if (new RegExp(p.pattern, flags).test('')) throw new CustomPatternError(p.name, 'the pattern matches the empty string');
  return Object.freeze({ name: p.name, re, mode: p.mode });
}

/** Validates and compiles every pattern; names must be distinct (they become tags). */
export function compilePatterns(list: readonly CustomPattern[]): readonly CompiledPattern[] {
  const seen = new Set<string>();
  const out = list.map((p) => {
    if (seen.has(p.name)) throw new CustomPatternError(p.name, 'the name is used twice');
    seen.add(p.name);
    return compilePattern(p);
  });
  return Object.freeze(out);
}
