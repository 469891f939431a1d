import type { PiiSpan, PiiType } from './types.js';

/**
 * Runs a global regex over `text` and keeps the matches `accept` approves. `accept` may return a
 * narrower `[start, end)` (an expiry date glued to a card number, a colon after an address) or
 * `false`. Every detector is one regex plus one such check, so the regexes stay simple enough to read
 * for backtracking: none nests a quantifier inside another over the same characters.
 */
export function scan(text: string, re: RegExp, type: PiiType, accept: (m: RegExpExecArray) => boolean | readonly [number, number]): PiiSpan[] {
  const out: PiiSpan[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    const verdict = accept(m);
    if (verdict === false) continue;
    const [start, end] = verdict === true ? [m.index, m.index + m[0].length] : verdict;
    out.push({ type, start, end, text: text.slice(start, end) });
  }
  return out;
}

/**
 * The `n` characters before `start`, cut at the last line break: the context a cue word ("phone",
 * "version", "SSN") is looked for in. Sentences run on in chat, so a full stop does not cut it.
 */
export function before(text: string, start: number, n: number): string {
  const s = text.slice(Math.max(0, start - n), start);
  const nl = s.lastIndexOf('\n');
  return nl < 0 ? s : s.slice(nl + 1);
}

/** An alphanumeric code with letters and digits right before, one space away ("1Z 999 AA1 0123 4567", "DE89 3704 …"). */
const CODE_BEFORE = /(?:^|\s)(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{2,} $/;

/** Whether the digits at `start` continue a code (a tracking number, an IBAN that failed its check) rather than stand alone. */
export const continuesCode = (text: string, start: number): boolean => CODE_BEFORE.test(before(text, start, 40));
