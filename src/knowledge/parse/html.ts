import { Parser } from 'htmlparser2';
import { cellText, markdownTable } from './table.js';
import { type ParsedDocument, type ParseLimits, withinChars, withText } from './types.js';

/**
 * HTML to the markdown-ish text the chunker reads, so headings, lists, tables and code keep their
 * structure. Also used for .docx, whose text mammoth gives as HTML. Not a full renderer: inline
 * markup becomes plain text, and anything that is not content (scripts, styles, <head>) is dropped.
 */

/** Elements whose text is never content. <title> inside <head> is read separately. */
const SKIPPED = new Set(['script', 'style', 'noscript', 'template', 'head', 'svg', 'iframe', 'object']);
/** Elements that end the paragraph before them and start a new one. */
const BLOCKS = new Set('p div section article header footer main aside nav blockquote figure figcaption form fieldset address dl dt dd hr body'.split(' '));
const HEADING = /^h([1-6])$/;

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The state of one conversion; the parser's callbacks drive it. */
class MarkdownWriter {
  private readonly lines: string[] = [];
  private inline = '';
  /** Prefix of the next line written ('## ', '- ', '2. '), consumed by it. */
  private prefix = '';
  private skipDepth = 0;
  private readonly lists: Array<{ ordered: boolean; next: number }> = [];
  private pre: string | null = null;
  private rows: string[][] | null = null;
  private cell: string | null = null;
  private titleText: string | null = null;
  title: string | undefined;

  open(name: string): void {
    if (name === 'title' && this.title === undefined) this.titleText = '';
    if (SKIPPED.has(name)) this.skipDepth++;
    if (this.skipDepth > 0 || this.pre !== null) return;
    if (this.cell !== null) {
      // Inside a table cell, block elements (mammoth wraps cell text in <p>) only separate words.
      if (BLOCKS.has(name) || name === 'br' || name === 'li') this.cell += ' ';
      return;
    }
    const heading = HEADING.exec(name);
    if (heading) {
      this.endBlock();
      this.prefix = `${'#'.repeat(Number(heading[1]))} `;
    } else if (name === 'ul' || name === 'ol') {
      this.endBlockOrLine();
      this.lists.push({ ordered: name === 'ol', next: 1 });
    } else if (name === 'li') {
      this.endLine();
      const list = this.lists.at(-1);
      const marker = list?.ordered ? `${list.next++}. ` : '- ';
      this.prefix = '  '.repeat(Math.max(0, this.lists.length - 1)) + marker;
    } else if (name === 'pre') {
      this.endBlock();
      this.pre = '';
    } else if (name === 'table') {
      this.endBlock();
      this.rows = [];
    } else if (name === 'tr') {
      this.rows?.push([]);
    } else if (name === 'td' || name === 'th') {
      this.cell = '';
    } else if (name === 'br') {
      this.endLine();
    } else if (BLOCKS.has(name)) {
      this.endBlockOrLine();
    }
  }

  close(name: string): void {
    if (name === 'title' && this.titleText !== null) {
      this.title = collapse(this.titleText) || undefined;
      this.titleText = null;
    }
    if (SKIPPED.has(name)) {
      this.skipDepth = Math.max(0, this.skipDepth - 1);
      return;
    }
    if (this.skipDepth > 0) return;
    if (name === 'pre' && this.pre !== null) {
      this.lines.push('```', ...this.pre.replace(/^\n/, '').trimEnd().split('\n'), '```', '');
      this.pre = null;
    } else if ((name === 'td' || name === 'th') && this.cell !== null) {
      this.rows?.at(-1)?.push(cellText(this.cell));
      this.cell = null;
    } else if (name === 'table' && this.rows !== null) {
      const rows = this.rows.filter((r) => r.length > 0);
      if (rows.length > 0) this.lines.push(...markdownTable(rows), '');
      this.rows = null;
    } else if (this.pre === null && this.cell === null) {
      if (HEADING.test(name)) this.endBlock();
      else if (name === 'ul' || name === 'ol') {
        this.endLine();
        this.lists.pop();
        if (this.lists.length === 0) this.endBlock();
      } else if (name === 'li') this.endLine();
      else if (BLOCKS.has(name)) this.endBlockOrLine();
    }
  }

  text(data: string): void {
    if (this.titleText !== null) this.titleText += data;
    if (this.skipDepth > 0) return;
    if (this.pre !== null) this.pre += data;
    else if (this.cell !== null) this.cell += data;
    else if (this.rows === null) this.inline += data;
    // Text between a table's rows (whitespace, stray text) is dropped.
  }

  /** Writes the pending inline text as one line under the pending prefix. */
  private endLine(): void {
    const text = collapse(this.inline);
    this.inline = '';
    if (text === '') return;
    this.lines.push(this.prefix + text);
    this.prefix = '';
  }

  /** Ends the line and leaves a blank one, which is what separates markdown blocks. */
  private endBlock(): void {
    this.endLine();
    this.prefix = '';
    if (this.lines.length > 0 && this.lines.at(-1) !== '') this.lines.push('');
  }

  /** Inside a list a paragraph only ends the line, so the list stays one block. */
  private endBlockOrLine(): void {
    if (this.lists.length > 0) this.endLine();
    else this.endBlock();
  }

  finish(): string {
    this.endBlock();
    return this.lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
}

/** Converts HTML to markdown-ish text, with the <title> if there is one. */
export function htmlToMarkdown(html: string): { text: string; title?: string } {
  const writer = new MarkdownWriter();
  const parser = new Parser(
    {
      onopentag: (name) => writer.open(name),
      onclosetag: (name) => writer.close(name),
      ontext: (data) => writer.text(data),
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.end(html);
  const text = writer.finish();
  return writer.title === undefined ? { text } : { text, title: writer.title };
}

export function parseHtml(html: string, filename: string, limits: ParseLimits): ParsedDocument {
  const { text, title } = htmlToMarkdown(html);
  withText(filename, text);
  return { format: 'html', text: withinChars(filename, text, limits), ...(title === undefined ? {} : { title }) };
}
