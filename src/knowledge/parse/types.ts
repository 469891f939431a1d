import { GatewayError } from '../../errors.js';

/**
 * What every format parser shares: the result shape, the limits, and the one error type. Kept apart
 * from index.ts so the format modules can import it without a cycle.
 */

export type DocumentFormat = 'text' | 'markdown' | 'html' | 'pdf' | 'docx' | 'json' | 'csv';

export interface ParseLimits {
  maxChars: number;
  maxPages: number;
  maxUnzippedBytes: number;
}

export interface PageSpan {
  page: number;
  start: number;
  end: number;
}

export interface ParsedDocument {
  format: DocumentFormat;
  /** Markdown-ish text the chunker reads (headings as '#', lists '- ', tables as '| a | b |' rows, code fenced). */
  text: string;
  /** PDF only: where each page lies in `text` (page numbers from 1; start/end are character offsets into text). */
  pages?: PageSpan[];
  /** A title found inside the file (pdf Info Title, docx core title, html <title>, first markdown '# ' heading), if any. */
  title?: string;
}

/**
 * A parsed document as the parser thread hands it over: its text as UTF-8 bytes in a transferred
 * buffer, so a document of megabytes crosses into the gateway's thread without a copy and goes to
 * SQL as bytes — never a multi-megabyte string, which V8 keeps in its large-object space until a
 * full collection (measured: ~300 MB of such garbage during a 200 MB upload).
 */
export interface ParsedFile extends Omit<ParsedDocument, 'text'> {
  utf8: Uint8Array;
  /** The text's length in UTF-16 code units (JavaScript string length), as offsets into it are counted. */
  chars: number;
}

/**
 * A file the gateway cannot index, with a message that names the file and what was wrong. It is a
 * client GatewayError, so the error middleware answers it as is (413, 415 or 422) with no mapping
 * in the upload route.
 */
export class ParseError extends GatewayError {
  declare readonly status: 413 | 415 | 422;

  constructor(message: string, status: 413 | 415 | 422, code: string) {
    super(message, { status, code, category: 'client', param: 'file' });
    this.name = 'ParseError';
  }
}

export const SUPPORTED = 'supported: txt, md, html, pdf, docx, json, csv';

/** The text as parsed, or 413 when it is longer than the limit (checked on what the chunker would read). */
export function withinChars(filename: string, text: string, limits: ParseLimits): string {
  if (text.length > limits.maxChars) {
    throw new ParseError(`${filename} has ${text.length} characters of text; the limit is ${limits.maxChars}`, 413, 'too_many_characters');
  }
  return text;
}

/** Refuses a document with nothing to index (a scanned PDF, an empty Word file, only markup). */
export function withText(filename: string, text: string, hint = ''): string {
  if (text.trim() === '') throw new ParseError(`${filename} has no extractable text${hint}`, 422, 'no_text');
  return text;
}

/** The message of anything thrown by a third-party parser, for the end of a 422 message. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
