import { type ParsedDocument, ParseError, type ParseLimits, withinChars, withText } from './types.js';

/**
 * JSON as searchable text: every leaf becomes a 'path.to.key: value' line, and each record (an
 * element of a top-level array of objects, or of an array of objects under a top-level key) is one
 * block separated by a blank line, so the chunker keeps a record together and a search for a value
 * finds the keys next to it.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Scalar = null | boolean | number | string;

const isScalar = (v: Json): v is Scalar => v === null || typeof v !== 'object';
const isObject = (v: Json): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRecordList = (v: Json): v is Array<{ [key: string]: Json }> => Array.isArray(v) && v.length > 0 && v.every(isObject);
const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/** A scalar as text; blank lines inside strings are squeezed so they cannot split a record. */
function scalar(v: Scalar): string {
  return typeof v === 'string' ? v.replace(/\n\s*\n/g, '\n') : JSON.stringify(v);
}

/** The 'path: value' lines of a value; arrays of scalars stay on one line. */
export function leafLines(value: Json, path: string): string[] {
  const label = path === '' ? '' : `${path}: `;
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${label}[]`];
    if (value.every(isScalar)) return [label + value.map(scalar).join(', ')];
    return value.flatMap((v, i) => leafLines(v, `${path}[${i}]`));
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return [`${label}{}`];
    return entries.flatMap(([k, v]) => leafLines(v, join(path, k)));
  }
  return [label + scalar(value)];
}

/** The blocks of a document: records apart, everything else together. */
export function jsonBlocks(root: Json): string[] {
  if (isRecordList(root)) return root.map((record) => leafLines(record, '').join('\n'));
  if (!isObject(root)) return [leafLines(root, 'value').join('\n')];
  const head: string[] = [];
  const records: string[] = [];
  for (const [key, value] of Object.entries(root)) {
    if (isRecordList(value)) records.push(...value.map((record, i) => [`${key}[${i}]:`, ...leafLines(record, '')].join('\n')));
    else head.push(...leafLines(value, key));
  }
  return [...(head.length > 0 ? [head.join('\n')] : []), ...records];
}

/**
 * V8 says '... at position 42' for most syntax errors; turned into a line and column a person can
 * find. (Its other messages, "Unexpected token", quote the text around the error instead.)
 */
function position(text: string, message: string): string {
  const at = /at position (\d+)/.exec(message);
  if (!at || /line \d+/.test(message)) return '';
  const before = text.slice(0, Number(at[1])).split('\n');
  return ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

export function parseJson(text: string, filename: string, limits: ParseLimits): ParsedDocument {
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ParseError(`${filename} is not valid JSON: ${message}${position(text, message)}`, 422, 'unparseable_file');
  }
  const out = jsonBlocks(root).join('\n\n');
  withText(filename, out);
  return { format: 'json', text: withinChars(filename, out, limits) };
}
