import { parse } from 'csv-parse/sync';
import { cellText, markdownTable } from './table.js';
import { type ParsedDocument, ParseError, type ParseLimits, reason, withinChars, withText } from './types.js';

/**
 * CSV/TSV as markdown tables. The header row is repeated every ROWS_PER_TABLE rows, each repeat a
 * table of its own, so whichever chunk a row lands in carries the column names that give it meaning.
 */

/** ~40 short rows fit a typical 400–800 token chunk with their header. */
const ROWS_PER_TABLE = 40;
const DELIMITERS = [',', ';', '\t'] as const;

/** The delimiter that occurs most in the first line (.tsv is tab); a comma when none occurs. */
export function guessDelimiter(text: string, filename: string): string {
  if (filename.toLowerCase().endsWith('.tsv')) return '\t';
  const end = text.indexOf('\n');
  const first = end === -1 ? text : text.slice(0, end);
  const count = (d: string) => first.split(d).length - 1;
  return DELIMITERS.reduce((best, d) => (count(d) > count(best) ? d : best), ',');
}

/** The rows split into header-led tables, separated by blank lines. */
export function csvToMarkdown(rows: string[][]): string {
  const [header, ...body] = rows.map((r) => r.map(cellText));
  if (header === undefined) return '';
  const tables: string[] = [];
  for (let i = 0; i === 0 || i < body.length; i += ROWS_PER_TABLE) {
    tables.push(markdownTable([header, ...body.slice(i, i + ROWS_PER_TABLE)]).join('\n'));
  }
  return tables.join('\n\n');
}

export function parseCsv(text: string, filename: string, limits: ParseLimits): ParsedDocument {
  let rows: string[][];
  try {
    rows = parse(text, { delimiter: guessDelimiter(text, filename), skip_empty_lines: true, bom: true });
  } catch (err) {
    throw new ParseError(`${filename} is not a consistent table: ${reason(err)}`, 422, 'unparseable_file');
  }
  const out = csvToMarkdown(rows);
  withText(filename, out);
  return { format: 'csv', text: withinChars(filename, out, limits) };
}
