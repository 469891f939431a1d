import { type DocumentFormat, ParseError, SUPPORTED } from './types.js';

/**
 * Format detection trusts the bytes, not the name: a PDF called notes.txt is a PDF, and a binary
 * called notes.txt is refused. The name only chooses among the text formats the bytes allow.
 */

const PDF_MAGIC = Buffer.from('%PDF-', 'latin1');
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
/** How far into a text file the HTML and markdown sniffing looks; markup shows itself at the top. */
const SNIFF_CHARS = 2048;

const HTML_START = /^\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html)[\s>]/i;
const HTML_TAGS = /<(?:body|p|div|h[1-6]|table|ul)[\s>]/i;
const MARKDOWN_HINTS = [/^#{1,6}\s+\S/m, /^\s{0,3}(?:```|~~~)/m, /\[[^\]\n]+\]\([^)\s]+\)/, /^\s*\|?\s*:?-{3,}:?\s*\|/m, /^\s*[-*+]\s+\S.*\n\s*[-*+]\s+\S/m];

const hasExt = (filename: string, ...exts: string[]) => exts.some((ext) => filename.toLowerCase().endsWith(ext));

/**
 * Decodes UTF-8 text, or refuses the file as binary. `stream: true` lets a head cut in the middle of
 * a multi-byte character pass; a BOM is dropped by the decoder.
 */
export function decodeText(bytes: Uint8Array, filename: string, complete: boolean): string {
  const nul = bytes.indexOf(0);
  if (nul !== -1) throw new ParseError(`${filename} looks binary (NUL bytes at offset ${nul}); ${SUPPORTED}`, 415, 'unsupported_file_type');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: !complete });
  } catch {
    throw new ParseError(`${filename} looks binary (it is not UTF-8 text); ${SUPPORTED}`, 415, 'unsupported_file_type');
  }
}

function isJson(text: string, filename: string): boolean {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return false;
  // A .json name is enough: json.ts then reports where the syntax breaks. Otherwise it must parse,
  // since markdown often starts with '[' (badges, links).
  if (hasExt(filename, '.json')) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A .md file keeps its HTML fragments (README badges, <p align>); only a full page makes it HTML. */
function isHtml(text: string, filename: string): boolean {
  const top = text.slice(0, SNIFF_CHARS);
  if (HTML_START.test(top)) return true;
  return !hasExt(filename, '.md', '.markdown') && HTML_TAGS.test(top);
}

function isMarkdown(text: string, filename: string): boolean {
  if (hasExt(filename, '.md', '.markdown')) return true;
  const top = text.slice(0, SNIFF_CHARS);
  return MARKDOWN_HINTS.some((re) => re.test(top));
}

/** Picks the text format; `text` must be the decoded file (JSON is recognised by parsing it). */
export function textFormat(text: string, filename: string): DocumentFormat {
  if (isJson(text, filename)) return 'json';
  if (isHtml(text, filename)) return 'html';
  // A named .csv/.tsv is a table even if it is a broken one: csv.ts then says which row is wrong.
  if (hasExt(filename, '.csv', '.tsv')) return 'csv';
  if (isMarkdown(text, filename)) return 'markdown';
  return 'text';
}

/**
 * Decides the format from the bytes (magic numbers and a parse), using the file name only to choose
 * between text formats that the bytes allow (e.g. .md vs .txt, .csv).
 *
 * `head` is the start of the file, or all of it: text formats are told apart by parsing, so a
 * JSON file seen only in part counts as JSON only when it is named .json. Any zip is reported as
 * docx; the zip's directory, which says whether it holds word/document.xml, sits at the end of the
 * file, so docx.ts makes that check (415 when it does not).
 */
export function detectFormat(head: Buffer, filename: string): DocumentFormat {
  if (head.length === 0) throw new ParseError(`${filename} is empty (0 bytes)`, 422, 'empty_file');
  if (head.subarray(0, PDF_MAGIC.length).equals(PDF_MAGIC)) return 'pdf';
  if (head.subarray(0, ZIP_MAGIC.length).equals(ZIP_MAGIC)) return 'docx';
  return textFormat(decodeText(head, filename, false), filename);
}
