import { open } from 'node:fs/promises';
import { parseCsv } from './csv.js';
import { decodeText, detectFormat, textFormat } from './detect.js';
import { parseDocx } from './docx.js';
import { parseHtml } from './html.js';
import { parseJson } from './json.js';
import { parsePdf } from './pdf.js';
import { parseText } from './text.js';
import type { ParsedDocument, ParseLimits } from './types.js';

/**
 * Uploaded files to the markdown-ish text the chunker reads. The format comes from the bytes
 * (detect.ts); each format has its own module; every refusal is a ParseError (413, 415 or 422)
 * whose message names the file and what was wrong with it.
 */

export { detectFormat } from './detect.js';
export { type DocumentFormat, type PageSpan, type ParsedDocument, ParseError, type ParseLimits } from './types.js';

/** Enough for the magic numbers and for sniffing markup at the top of a text file. */
const HEAD_BYTES = 8192;

/**
 * Reads up to `max` bytes from the start of the file (all of it when `max` is omitted) into a new
 * Uint8Array: never a pooled Buffer, since pdfjs detaches the buffer it is given.
 */
async function readBytes(path: string, max = Number.POSITIVE_INFINITY): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const size = Math.min((await file.stat()).size, max);
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await file.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } finally {
    await file.close();
  }
}

/**
 * Parses the file at `path` (streamed to disk by the upload route); `filename` is the name it was
 * sent with, used in messages and to tell text formats apart.
 */
export async function parseFile(path: string, filename: string, limits: ParseLimits): Promise<ParsedDocument> {
  const head = await readBytes(path, HEAD_BYTES);
  const format = detectFormat(Buffer.from(head.buffer, head.byteOffset, head.byteLength), filename);
  if (format === 'pdf') return parsePdf(await readBytes(path), filename, limits);
  if (format === 'docx') return parseDocx(path, filename, limits);

  // Text formats need the whole file anyway, and are told apart by parsing all of it.
  const text = decodeText(await readBytes(path), filename, true);
  const textual = textFormat(text, filename);
  if (textual === 'json') return parseJson(text, filename, limits);
  if (textual === 'csv') return parseCsv(text, filename, limits);
  if (textual === 'html') return parseHtml(text, filename, limits);
  return parseText(text, textual === 'markdown' ? 'markdown' : 'text', filename, limits);
}
