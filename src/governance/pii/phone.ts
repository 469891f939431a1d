/**
 * Phone numbers: E.164 (+14155552671, +44 20 7946 0958) and national numbers written with
 * separators ((415) 555-2671, 06 12 34 56 78, 030 1234567, 415.555.2671).
 *
 * A chat is full of digit runs that are not phones — years, prices, order and invoice numbers,
 * tracking codes, dates, versions, ISBNs — so a candidate must look like a phone, not merely have the
 * right number of digits: a leading + or 00 (8–15 digits), an area code in parentheses (7–13), or
 * groups joined by spaces, dots or dashes (9–12 digits, the national lengths of the countries around,
 * grouped as those countries group them). A word that announces a phone ("call", "mobile", "tel:")
 * in the 40 characters before lets a bare run of 9–12 digits or a 7-digit local number count too.
 * Shapes that belong to something else are refused: ISBN-like groups (a one-digit group at the end),
 * dotted quads, the SSN shape 3-2-4, groups of four (cards, tracking numbers), and runs a word like
 * "order", "invoice" or "tracking" introduces.
 */
import { before, continuesCode, scan } from './scan.js';
import type { PiiSpan } from './types.js';

/**
 * Digits, spaces, dots, dashes and parentheses, bounded in length (so a long list of numbers does not
 * become one candidate), starting with a digit, + or ( and ending with a digit.
 */
const PHONE_RE = /(?<![\w+\-.#/@$€£¥])(?:\+|\(\+?)?\d[\d ().-]{4,24}\d(?![\w@/:%]|[.,-]\d)/g;

/**
 * Words that announce a number, in the few languages the fixtures use: group 1 a phone ("call",
 * "mobile", "tel"), group 2 some other number ("order", "invoice", "tracking"). The nearest one before
 * a candidate decides.
 */
const CUE_RE = new RegExp(
  '\\b(?:(phone|ph|tel|telephone|mobile|mob|cell|cellphone|call|calls|calling|ring|text|sms|whatsapp|signal|fax|landline|contact|reach|dial|' +
    'line|hotline|helpline|my number|móvil|movil|teléfono|telefono|téléphone|portable|numéro|handy|telefon|tlf)|' +
    '(order|invoice|inv|ref|reference|tracking|track|parcel|shipment|account|acct|ticket|case|id|serial|sku|isbn|issn|po|transaction|txn|' +
    'confirmation|booking|receipt|part|model|batch|lot|policy|claim|member|nr|iban|card|bic|swift|ssn|nino|dni|nie|version|build|' +
    'fedex|ups|dhl|usps|duns|ein|vat))\\b',
  'giu',
);

function lastCue(context: string): 'phone' | 'other' | undefined {
  let cue: 'phone' | 'other' | undefined;
  for (const m of context.matchAll(CUE_RE)) cue = m[1] !== undefined ? 'phone' : 'other';
  return cue;
}

const CURRENCY_BEFORE = /(?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|inr|aud|cad))\s?$/i;
const CURRENCY_AFTER = /^\s?(?:[$€£¥₹%]|(?:usd|eur|gbp|chf|jpy|inr|aud|cad|euros?|dollars?|pounds?|km|kg|mb|gb|kb|ms)\b)/i;

interface Shape {
  groups: number[];
  plus: boolean;
  paren: boolean;
  dots: boolean;
}

/** Splits a candidate into digit groups; undefined when its punctuation is not a phone's. */
function shape(c: string): Shape | undefined {
  let s = c;
  let plus = false;
  if (s.startsWith('(+')) s = `+(${s.slice(2)}`;
  if (s.startsWith('+')) {
    plus = true;
    s = s.slice(1).trimStart();
  }
  const groups: number[] = [];
  let paren = false;
  let dots = false;
  // A group, then what follows it: nothing (the end), a separator, or a parenthesis next to a group.
  const re = /(\(\d{1,5}\)|\d+)( ?[.-] ?| |)/y;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return undefined;
    const g = m[1]!;
    if (g.startsWith('(')) {
      if (paren) return undefined;
      paren = true;
      groups.push(g.length - 2);
    } else groups.push(g.length);
    if (m[2]!.includes('.')) dots = true;
    at = re.lastIndex;
    // Two digit groups with nothing between them cannot happen (\d+ is greedy); a group glued to a
    // parenthesis can ("(0)20", "(415)555-2671").
    if (m[2] === '' && at < s.length && s[at] !== '(' && !g.startsWith('(')) return undefined;
  }
  return { groups, plus, paren, dots };
}

function phoneShaped(text: string, start: number, c: string): boolean {
  const sh = shape(c);
  if (!sh) return false;
  const { groups, paren, dots } = sh;
  let plus = sh.plus;
  let digits = groups.reduce((a, b) => a + b, 0);
  // 00 is the international prefix outside North America: "0044 20 7946 0958", "00 33 6 12 34 56 78".
  if (!plus && /^00[1-9]/.test(c.replace(/[ ()]/g, ''))) {
    plus = true;
    digits -= 2;
  }
  const last = groups.at(-1)!;
  if (groups.length > 1 && last < 2) return false;
  if (groups.filter((g) => g === 1).length > 1) return false;
  const singleAt = groups.indexOf(1);
  if (singleAt > 1) return false;
  if (dots && (groups.length < 3 || groups.some((g, i) => g < 2 && !(i === 0 && plus)))) return false;
  if (dots && groups.length === 4 && groups.every((g) => g <= 3)) return false;
  if (!plus && groups.length === 3 && groups[0] === 3 && groups[1] === 2 && groups[2] === 4) return false;
  const context = before(text, start, 40);
  if (CURRENCY_BEFORE.test(context) || CURRENCY_AFTER.test(text.slice(start + c.length, start + c.length + 8))) return false;
  if (continuesCode(text, start)) return false;
  const cue = lastCue(context);
  if (cue === 'other') return false;
  const cued = cue === 'phone';
  if (plus) return digits >= 8 && digits <= 15;
  if (paren) return digits >= 7 && digits <= 13;
  if (groups.length === 1) return cued && digits >= 9 && digits <= 12;
  // A cue makes a short local number believable ("call me back on 555-0142").
  if (cued) return digits >= 7 && digits <= 12;
  if (digits < 9 || digits > 12) return false;
  return nationalShape(groups, digits);
}

/**
 * How national numbers are grouped, where no + and no cue vouch for them: nine digits come in twos
 * and threes (612 345 678, 612 34 56 78, 02 123 45 67); all-pairs is the French five (06 12 34 56 78);
 * three or more groups of four are cards, tracking and booking references, not phones.
 */
function nationalShape(groups: number[], digits: number): boolean {
  if (digits === 9 && !groups.every((g) => g === 2 || g === 3)) return false;
  if (groups.every((g) => g === 2) && groups.length !== 5) return false;
  if (groups.length >= 3 && groups.every((g) => g === 4)) return false;
  return true;
}

export function detectPhone(text: string): PiiSpan[] {
  return scan(text, PHONE_RE, 'phone', (m) => phoneShaped(text, m.index, m[0]));
}
