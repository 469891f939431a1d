/**
 * The check digits that separate an identifier from any number of the same shape. Each takes the
 * compact form (no spaces or dashes) and answers whether it is valid; none throws.
 */

/** Luhn (mod 10), used by every card scheme: double every second digit from the right. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** `digitsAndLetters` mod 97, letters counting A=10 … Z=35 (ISO 7064, as IBAN uses it), in chunks so no BigInt. */
export function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 48 && c <= 57) r = (r * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) r = (r * 100 + (c - 55)) % 97;
    else return -1;
  }
  return r;
}

/**
 * IBAN lengths by country (SWIFT IBAN registry). A country outside the table is not accepted: a
 * two-letter word followed by digits that happens to pass mod 97 is more likely than an IBAN from a
 * country the registry does not list.
 */
// biome-ignore format: a table reads better dense
const IBAN_LENGTH: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28,
  CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18,
  GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32,
  LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15,
  PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25,
  SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
});

export const ibanLength = (country: string): number | undefined => IBAN_LENGTH[country.toUpperCase()];

/** Upper-case compact IBAN: registry length for its country and mod 97 = 1 with the first four moved to the end. */
export function ibanValid(compact: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact) || ibanLength(compact.slice(0, 2)) !== compact.length) return false;
  return mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

/**
 * US SSN ranges the SSA never issues: area 000, 666 and 900–999, group 00, serial 0000, and the two
 * numbers printed on sample cards (078-05-1120, 219-09-9999).
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.startsWith('9') || group === '00' || serial === '0000') return false;
  const n = `${area}${group}${serial}`;
  return n !== '078051120' && n !== '219099999';
}

/**
 * UK National Insurance number prefixes (HMRC): neither letter D, F, I, Q, U or V; the second not O;
 * BG, GB, KN, NK, NT, TN and ZZ never allocated. The suffix is A–D. No check digit exists.
 */
export function ninoPrefixValid(prefix: string): boolean {
  const p = prefix.toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]$/.test(p)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(p);
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI (8 digits) or NIE (X/Y/Z + 7 digits, the letter read as 0/1/2): the letter is the number mod 23. */
export function dniValid(prefix: string, digits: string, letter: string): boolean {
  const p = prefix.toUpperCase();
  if (p === '' ? digits.length !== 8 : digits.length !== 7) return false;
  const n = Number(`${p === '' ? '' : 'XYZ'.indexOf(p)}${digits}`);
  return DNI_LETTERS[n % 23] === letter.toUpperCase();
}

/**
 * French NIR (INSEE number): 13 characters and a two-digit key = 97 − (number mod 97), Corsican
 * departments 2A and 2B read as 19 and 18 for the key.
 */
export function nirValid(body13: string, key: string): boolean {
  const b = body13.toUpperCase();
  const dept = b.slice(5, 7);
  const numeric = dept === '2A' ? `${b.slice(0, 5)}19${b.slice(7)}` : dept === '2B' ? `${b.slice(0, 5)}18${b.slice(7)}` : b;
  if (!/^\d{13}$/.test(numeric)) return false;
  return 97 - mod97(numeric) === Number(key);
}
