import { getDocument, type PDFDocumentProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { type PageSpan, type ParsedDocument, ParseError, type ParseLimits, reason, withText } from './types.js';

/**
 * PDF text through pdfjs-dist (the legacy build is the one meant for Node). Pages are counted
 * before any text is extracted, and extraction stops at the character limit, so a huge PDF costs
 * the parse of its cross-reference table, not of every page.
 */

/** One page's text items: a newline where pdfjs marks the end of a line, runs of spaces collapsed. */
function pageText(items: ReadonlyArray<object>): string {
  let raw = '';
  for (const item of items) {
    // Marked-content items carry no 'str'.
    if (!('str' in item) || typeof item.str !== 'string') continue;
    raw += item.str;
    if ('hasEOL' in item && item.hasEOL) raw += '\n';
  }
  return raw
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Joins the pages with a blank line between them and records where each one lies. */
export function joinPages(texts: string[]): { text: string; pages: PageSpan[] } {
  let text = '';
  const pages: PageSpan[] = [];
  texts.forEach((pageText, i) => {
    if (i > 0) text += '\n\n';
    pages.push({ page: i + 1, start: text.length, end: text.length + pageText.length });
    text += pageText;
  });
  return { text, pages };
}

async function infoTitle(doc: PDFDocumentProxy): Promise<string | undefined> {
  const { info } = await doc.getMetadata().catch(() => ({ info: undefined }));
  const title = (info as { Title?: unknown } | undefined)?.Title;
  return typeof title === 'string' && title.trim() !== '' ? title.trim() : undefined;
}

async function extract(doc: PDFDocumentProxy, filename: string, limits: ParseLimits): Promise<string[]> {
  if (doc.numPages > limits.maxPages) {
    throw new ParseError(`${filename} has ${doc.numPages} pages; the limit is ${limits.maxPages}`, 413, 'too_many_pages');
  }
  const texts: string[] = [];
  let chars = 0;
  for (let n = 1; n <= doc.numPages; n++) {
    const page = await doc.getPage(n);
    const text = pageText((await page.getTextContent()).items);
    page.cleanup();
    texts.push(text);
    chars += text.length + (n > 1 ? 2 : 0);
    if (chars > limits.maxChars) {
      throw new ParseError(
        `${filename} reaches ${chars} characters of text by page ${n} of ${doc.numPages}; the limit is ${limits.maxChars}`,
        413,
        'too_many_characters',
      );
    }
  }
  return texts;
}

/**
 * Parses a PDF. `data` must be a Uint8Array the caller owns: pdfjs transfers its buffer to the
 * worker side, which detaches it (a Buffer from Node's shared pool must never get here).
 */
export async function parsePdf(data: Uint8Array, filename: string, limits: ParseLimits): Promise<ParsedDocument> {
  // verbosity 0: pdfjs reports recoverable damage with console.log, which would land in our stdout logs.
  const task = getDocument({ data, useSystemFonts: false, isEvalSupported: false, disableFontFace: true, verbosity: 0 });
  try {
    const doc = await task.promise.catch((err: unknown) => {
      const locked = err instanceof Error && err.name === 'PasswordException';
      const why = locked ? 'it is password-protected' : reason(err);
      throw new ParseError(`${filename} is not a readable PDF: ${why}`, 422, 'unparseable_file');
    });
    const texts = await extract(doc, filename, limits).catch((err: unknown) => {
      if (err instanceof ParseError) throw err;
      throw new ParseError(`${filename} is not a readable PDF: ${reason(err)}`, 422, 'unparseable_file');
    });
    const { text, pages } = joinPages(texts);
    withText(filename, text, ' (a scanned PDF needs OCR before upload)');
    const title = await infoTitle(doc);
    return { format: 'pdf', text, pages, ...(title === undefined ? {} : { title }) };
  } finally {
    // Destroys the document and its (in-process) worker even when parsing failed half-way.
    await task.destroy();
  }
}
