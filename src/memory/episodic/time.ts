/**
 * Explicit dates in a question ("on 13 October, 2023", "in July 2023", "in June", "in 2024") as
 * time ranges, so retrieval can prefer what was said then. Only explicit calendar references are
 * read; relative ones ("last week") need the conversation's clock and are left to the model, which
 * sees every retrieved turn under its day.
 */
export interface TimeRange {
  /** Inclusive start and exclusive end, epoch ms (UTC). */
  from: number;
  to: number;
  /** A month named without a year matches that month in every year. */
  monthOnly?: number;
}

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const MONTH = `(${MONTHS.join('|')}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\\.?`;
const monthIndex = (name: string): number => MONTHS.findIndex((m) => m.startsWith(name.toLowerCase().replace('.', '').slice(0, 3)));

const DAY_MONTH_YEAR = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+${MONTH},?\\s+(\\d{4})\\b`, 'gi');
const MONTH_DAY_YEAR = new RegExp(`\\b${MONTH}\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, 'gi');
const MONTH_YEAR = new RegExp(`\\b${MONTH},?\\s+(\\d{4})\\b`, 'gi');
const MONTH_ALONE = new RegExp(`\\b(?:in|during|of|since)\\s+${MONTH}\\b(?!\\s*,?\\s*\\d)`, 'gi');
const YEAR = /\b(?:in|during|of)\s+((?:19|20)\d{2})\b/gi;
const ISO_DAY = /\b((?:19|20)\d{2})-(\d{2})-(\d{2})\b/g;

const day = (y: number, m: number, d: number): TimeRange => ({ from: Date.UTC(y, m, d), to: Date.UTC(y, m, d + 1) });

export function parseTimeRanges(text: string): TimeRange[] {
  const out: TimeRange[] = [];
  const taken: Array<[number, number]> = [];
  const free = (m: RegExpExecArray) => !taken.some(([a, b]) => m.index < b && m.index + m[0].length > a);
  const take = (m: RegExpExecArray, r: TimeRange | undefined) => {
    if (!r || Number.isNaN(r.from)) return;
    taken.push([m.index, m.index + m[0].length]);
    out.push(r);
  };
  for (const m of text.matchAll(ISO_DAY)) if (free(m)) take(m, day(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  for (const m of text.matchAll(DAY_MONTH_YEAR)) if (free(m)) take(m, day(Number(m[3]), monthIndex(m[2] as string), Number(m[1])));
  for (const m of text.matchAll(MONTH_DAY_YEAR)) if (free(m)) take(m, day(Number(m[3]), monthIndex(m[1] as string), Number(m[2])));
  for (const m of text.matchAll(MONTH_YEAR)) {
    if (!free(m)) continue;
    const y = Number(m[2]);
    const mo = monthIndex(m[1] as string);
    take(m, { from: Date.UTC(y, mo, 1), to: Date.UTC(y, mo + 1, 1) });
  }
  for (const m of text.matchAll(MONTH_ALONE)) if (free(m)) take(m, { from: -Infinity, to: Infinity, monthOnly: monthIndex(m[1] as string) });
  for (const m of text.matchAll(YEAR)) if (free(m)) take(m, { from: Date.UTC(Number(m[1]), 0, 1), to: Date.UTC(Number(m[1]) + 1, 0, 1) });
  return out;
}

/** Whether an instant lies in any of the ranges. */
export function inRanges(ranges: readonly TimeRange[], at: number): boolean {
  return ranges.some((r) => (r.monthOnly !== undefined ? new Date(at).getUTCMonth() === r.monthOnly : at >= r.from && at < r.to));
}
