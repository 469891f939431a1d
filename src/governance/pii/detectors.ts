/**
 * PII detection: pure, synchronous, no I/O. Every detector is a simple regex plus a validity check
 * (checksum, registry length, never-issued range, shape), because in chat text the same digits are
 * far more often order numbers, prices and dates than personal data; see each detector's notes.
 *
 * Names are out of reach: a NER model would be needed and none can be had offline (nothing ships with
 * the gateway, nothing is downloaded at run time). Known names can be listed as a custom pattern.
 */
import { ibanLength, ibanValid, luhnValid } from './checksums.js';
import { type CompiledPattern, compilePatterns } from './custom.js';
import { detectIpv4, detectIpv6 } from './ip.js';
import { detectEsDni, detectFrNir, detectUkNino, detectUsSsn } from './national-ids.js';
import { detectPhone } from './phone.js';
import { continuesCode, scan } from './scan.js';
import type { CustomPattern, PiiSpan, PiiType } from './types.js';

/**
 * Local part and domain with an alphabetic TLD, ASCII only (internationalised addresses are rare in
 * support chats, and a Unicode local part would widen what a stray "@" catches).
 */
const EMAIL_RE =
  /(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|\.[A-Za-z0-9])/g;

export function detectEmail(text: string): PiiSpan[] {
  return scan(text, EMAIL_RE, 'email', (m) => !m[0].includes('..'));
}

/** 13–19 digits, optionally in groups joined by single spaces or dashes, not part of a longer run (a 22-digit tracking number). */
const CARD_RE = /(?<![\w+\-.#/,])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d|[ -]\d)/g;

/**
 * Issuer prefixes and lengths of the schemes in use: Visa 4 (13, 16, 19), Mastercard 51–55 and
 * 2221–2720 (16), Amex 34/37 (15), Diners 30/36/38/39 (14–19), JCB 35 (16–19), Maestro 50/56–59 and
 * Discover/UnionPay/Maestro 6 (13–19). A Luhn check alone passes one random number in ten; prefix and
 * length cut what remains several times over.
 */
function issuerKnown(d: string): boolean {
  const two = Number(d.slice(0, 2));
  const four = Number(d.slice(0, 4));
  const n = d.length;
  if (d[0] === '4') return n === 13 || n === 16 || n === 19;
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return n === 16;
  if (two === 34 || two === 37) return n === 15;
  if (two === 30 || two === 36 || two === 38 || two === 39) return n >= 14;
  if (two === 35) return n >= 16;
  return two === 50 || (two >= 56 && two <= 69);
}

/** Groups as printed on cards: fours (the last one shorter), or Amex/Diners 4-6-5 and 4-6-4. */
function cardGrouping(groups: number[]): boolean {
  if (groups.length === 1) return true;
  if (groups.length === 3 && groups[0] === 4 && groups[1] === 6 && (groups[2] === 5 || groups[2] === 4)) return true;
  return groups.slice(0, -1).every((g) => g === 4) && groups.at(-1)! >= 1 && groups.at(-1)! <= 4;
}

export function detectCreditCard(text: string): PiiSpan[] {
  return scan(text, CARD_RE, 'credit_card', (m) => {
    if (continuesCode(text, m.index)) return false;
    const raw = m[0];
    const seps = raw.match(/[ -]/g) ?? [];
    if (new Set(seps).size > 1) return false;
    let parts = raw.split(/[ -]/);
    // A trailing group may belong to something else ("4111 1111 1111 1111 12/27"): try without it.
    while (parts.length > 0) {
      const digits = parts.join('');
      if (digits.length >= 13 && digits.length <= 19 && cardGrouping(parts.map((p) => p.length)) && issuerKnown(digits) && luhnValid(digits)) {
        return [m.index, m.index + parts.join(seps[0] ?? '').length];
      }
      if (parts.length === 1) return false;
      parts = parts.slice(0, -1);
    }
    return false;
  });
}

/**
 * Country, check digits, then the BBAN written solid or in groups of four with single spaces (the
 * last group shorter); letters may be lower-case. Groups have a fixed width so a long alphanumeric
 * run cannot be split in many ways while the regex backtracks.
 */
const IBAN_RE = /(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])/g;

export function detectIban(text: string): PiiSpan[] {
  return scan(text, IBAN_RE, 'iban', (m) => {
    const want = ibanLength(m[1]!);
    // "De89…" is a word, not a country code.
    if (want === undefined || (m[1] !== m[1]!.toUpperCase() && m[1] !== m[1]!.toLowerCase())) return false;
    // The candidate may run on into a following number ("… 0130 00 1234"): cut it at the country's length.
    const raw = m[0];
    let seen = 0;
    let end = 0;
    while (end < raw.length && seen < want) {
      if (raw[end] !== ' ') seen++;
      end++;
    }
    if (seen < want || (end < raw.length && raw[end] !== ' ')) return false;
    const compact = raw.slice(0, end).replace(/ /g, '').toUpperCase();
    return ibanValid(compact) ? [m.index, m.index + end] : false;
  });
}

function detectCustom(text: string, patterns: readonly CompiledPattern[]): PiiSpan[] {
  const out: PiiSpan[] = [];
  for (const p of patterns) for (const s of scan(text, p.re, 'custom', () => true)) out.push({ ...s, name: p.name });
  return out;
}

const DETECTORS: Readonly<Record<Exclude<PiiType, 'custom'>, (text: string) => PiiSpan[]>> = Object.freeze({
  email: detectEmail,
  phone: detectPhone,
  credit_card: detectCreditCard,
  iban: detectIban,
  ip: (t: string) => [...detectIpv4(t), ...detectIpv6(t)],
  us_ssn: detectUsSsn,
  uk_nino: detectUkNino,
  es_dni: detectEsDni,
  fr_nir: detectFrNir,
});

/**
 * Which span wins a tie in length: a pattern the deployment wrote itself, then values a checksum
 * confirmed (mod 97 before Luhn, which one random number in ten passes), then fixed-format ids, then
 * the loosest shapes (an IP, a phone).
 */
const SPECIFICITY: Readonly<Record<PiiType, number>> = Object.freeze({
  custom: 10,
  iban: 9,
  fr_nir: 9,
  credit_card: 8,
  es_dni: 7,
  us_ssn: 6,
  uk_nino: 6,
  email: 5,
  ip: 4,
  phone: 3,
});

/**
 * Overlapping spans keep one: the longest (it saw more of the value), of equal lengths the most
 * specific. Returned in text order, none overlapping. Spans are first cut into runs that overlap
 * one another, so the choice is quadratic only within a run (a handful), not over the text.
 */
export function resolveOverlaps(spans: readonly PiiSpan[]): PiiSpan[] {
  const byStart = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PiiSpan[] = [];
  let run: PiiSpan[] = [];
  let runEnd = -1;
  const settle = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) {
      const ranked = run.sort((a, b) => b.end - b.start - (a.end - a.start) || SPECIFICITY[b.type] - SPECIFICITY[a.type] || a.start - b.start);
      const kept: PiiSpan[] = [];
      for (const s of ranked) if (!kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
      out.push(...kept.sort((a, b) => a.start - b.start));
    }
    run = [];
  };
  for (const s of byStart) {
    if (s.start >= runEnd) settle();
    run.push(s);
    runEnd = Math.max(runEnd, s.end);
  }
  settle();
  return out;
}

export interface DetectOptions {
  types: readonly PiiType[];
  /** Only read when `types` includes 'custom'. Compiled on first use and cached per array: pass the same (frozen config) array. */
  custom?: readonly CustomPattern[];
}

const compiledCache = new WeakMap<readonly CustomPattern[], readonly CompiledPattern[]>();

/** The compiled form of `custom`, validated once per array; throws CustomPatternError for a bad pattern. */
export function compiledCustom(custom: readonly CustomPattern[]): readonly CompiledPattern[] {
  let c = compiledCache.get(custom);
  if (!c) {
    c = compilePatterns(custom);
    compiledCache.set(custom, c);
  }
  return c;
}

/** Every PII value of the requested types in `text`, in text order, overlaps resolved. */
export function detectPii(text: string, opts: DetectOptions): PiiSpan[] {
  const spans: PiiSpan[] = [];
  for (const type of new Set(opts.types)) {
    if (type === 'custom') {
      if (opts.custom && opts.custom.length > 0) spans.push(...detectCustom(text, compiledCustom(opts.custom)));
    } else spans.push(...DETECTORS[type](text));
  }
  return resolveOverlaps(spans);
}
