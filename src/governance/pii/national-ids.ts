/**
 * National identifiers, by country. Each is matched in its usual written forms and then checked:
 * by check letter or key where the scheme has one (Spanish DNI/NIE, French NIR), by the ranges and
 * prefixes that are never issued where it has none (US SSN, UK NINO). A value that fails the check is
 * not reported: a mistyped id is rarer in a chat than a number of the same shape that is no id.
 */
import { dniValid, ninoPrefixValid, nirValid, ssnValid } from './checksums.js';
import { before, scan } from './scan.js';
import type { PiiSpan } from './types.js';

/** AAA-GG-SSSS or AAA GG SSSS (one separator throughout). */
const SSN_RE = /(?<![\w\-.#/])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w\-/]|[.,]\d)/g;
/** Nine bare digits are an SSN only right after a word that says so. */
const SSN_BARE_RE = /(?<![\w\-.#/])(\d{3})(\d{2})(\d{4})(?![\w\-/]|[.,]\d)/g;
const SSN_CUE = /\b(?:ssn|ss#|social security(?: number| no\.?)?|social)\b\W{0,12}(?:(?:is|was|:)\W{0,3})?$/i;

export function detectUsSsn(text: string): PiiSpan[] {
  return [
    ...scan(text, SSN_RE, 'us_ssn', (m) => ssnValid(m[1]!, m[3]!, m[4]!)),
    ...scan(text, SSN_BARE_RE, 'us_ssn', (m) => ssnValid(m[1]!, m[2]!, m[3]!) && SSN_CUE.test(before(text, m.index, 40))),
  ];
}

/** QQ123456C, QQ 12 34 56 C. */
const NINO_RE = /(?<![A-Za-z0-9])([A-Za-z]{2}) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-Da-d])(?![A-Za-z0-9])/g;

export function detectUkNino(text: string): PiiSpan[] {
  // A lower-case prefix is accepted only with a lower-case suffix: "is 12 34 56 a" must not read as one.
  return scan(text, NINO_RE, 'uk_nino', (m) => ninoPrefixValid(m[1]!) && (m[1] === m[1]!.toUpperCase()) === (m[5] === m[5]!.toUpperCase()));
}

/** 12345678Z, 12345678-Z, 12.345.678-Z, X1234567L (NIE). */
const DNI_RE = /(?<![\w\-.#/])([XYZxyz]?)(\d{7,8}|\d{2}\.\d{3}\.\d{3})[ -]?([A-Za-z])(?![\w-])/g;

export function detectEsDni(text: string): PiiSpan[] {
  return scan(text, DNI_RE, 'es_dni', (m) => dniValid(m[1]!, m[2]!.replace(/\./g, ''), m[3]!));
}

/** 1 85 05 78 006 084 36, 185057800608436, 2 90 02 2A 004 123 45 (spaces or dots between the parts). */
const NIR_RE = /(?<![\w\-.#/])([12])[ .]?(\d{2})[ .]?(\d{2})[ .]?(2[ABab]|\d{2})[ .]?(\d{3})[ .]?(\d{3})[ .]?(\d{2})(?![\w\-/]|[.,]\d)/g;

export function detectFrNir(text: string): PiiSpan[] {
  return scan(text, NIR_RE, 'fr_nir', (m) => nirValid(m.slice(1, 7).join(''), m[7]!));
}
