import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { detectFormat, ParseError, type ParseLimits, parseFile } from '../../src/knowledge/parse/index.js';
import {
  binaryAsTxt,
  damagedXrefPdf,
  EMPTY,
  makeDocx,
  makePdf,
  makeZipBomb,
  notAZipDocx,
  SAMPLE_CSV,
  SAMPLE_HTML,
  SAMPLE_JSON,
  SAMPLE_MD,
  truncatedPdf,
} from '../helpers/files.js';

const LIMITS: ParseLimits = { maxChars: 1_000_000, maxPages: 100, maxUnzippedBytes: 50 * 1024 * 1024 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parse-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the fixture under `name` and parses it, as the upload route would. */
async function parse(name: string, data: Buffer | string, limits: ParseLimits = LIMITS) {
  const path = join(dir, name);
  await writeFile(path, data);
  return parseFile(path, name, limits);
}

/** The ParseError a parse throws (fails the test when it does not throw one). */
async function refusal(name: string, data: Buffer | string, limits: ParseLimits = LIMITS): Promise<ParseError> {
  const err = await parse(name, data, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ParseError);
  const parseError = err as ParseError;
  expect(parseError.message).toContain(name);
  return parseError;
}

describe('detectFormat', () => {
  it('trusts the bytes over the extension', () => {
    expect(detectFormat(makePdf([['x']]), 'report.txt')).toBe('pdf');
    expect(detectFormat(Buffer.from('PK\x03\x04rest', 'latin1'), 'notes.txt')).toBe('docx');
    expect(detectFormat(Buffer.from(SAMPLE_JSON), 'data.txt')).toBe('json');
    expect(detectFormat(Buffer.from(SAMPLE_HTML), 'page.txt')).toBe('html');
  });

  it('uses the name only among text formats the bytes allow', () => {
    expect(detectFormat(Buffer.from(SAMPLE_CSV), 'people.csv')).toBe('csv');
    expect(detectFormat(Buffer.from(SAMPLE_CSV), 'people.txt')).toBe('text');
    expect(detectFormat(Buffer.from('just words'), 'notes.md')).toBe('markdown');
    expect(detectFormat(Buffer.from(SAMPLE_MD), 'notes.txt')).toBe('markdown');
    // A README's HTML fragment keeps it markdown; elsewhere such tags make it HTML.
    const readme = '<p align="center"><img src="logo.png"></p>\n\n# Tool\n';
    expect(detectFormat(Buffer.from(readme), 'README.md')).toBe('markdown');
    expect(detectFormat(Buffer.from(readme), 'README.txt')).toBe('html');
    // Markdown that starts with '[' is not JSON unless it parses.
    expect(detectFormat(Buffer.from('[![build](b.svg)](ci) A tool.'), 'README')).toBe('markdown');
  });

  it('refuses binary and empty input', () => {
    const nul = (() => {
      try {
        detectFormat(binaryAsTxt(), 'photo.txt');
      } catch (e) {
        return e as ParseError;
      }
    })();
    expect(nul).toMatchObject({ status: 415, code: 'unsupported_file_type' });
    expect(nul?.message).toBe('photo.txt looks binary (NUL bytes at offset 14); supported: txt, md, html, pdf, docx, json, csv');
    expect(() => detectFormat(Buffer.from([0xc3, 0x28, 0x41]), 'latin.txt')).toThrow(/latin\.txt looks binary \(it is not UTF-8 text\)/);
    expect(() => detectFormat(EMPTY, 'nothing.txt')).toThrow(expect.objectContaining({ status: 422, code: 'empty_file' }));
  });

  it('accepts a head cut inside a multi-byte character', () => {
    expect(detectFormat(Buffer.from('héllo').subarray(0, 2), 'a.txt')).toBe('text');
  });
});

describe('pdf', () => {
  const pages = [['Annual report 2024', 'Revenue   grew by 12 (percent).'], ['Costs fell.'], ['Outlook: stable']];

  it('extracts each page, with offsets that slice back to it, and the Info title', async () => {
    const doc = await parse('report.pdf', makePdf(pages, { title: 'Annual Report' }));
    expect(doc.format).toBe('pdf');
    expect(doc.title).toBe('Annual Report');
    const expected = ['Annual report 2024\nRevenue grew by 12 (percent).', 'Costs fell.', 'Outlook: stable'];
    expect(doc.text).toBe(expected.join('\n\n'));
    expect(doc.pages?.map((p) => p.page)).toEqual([1, 2, 3]);
    expect(doc.pages?.map((p) => doc.text.slice(p.start, p.end))).toEqual(expected);
  });

  it('is a pdf even when named .txt, and has no title when the file has none', async () => {
    const doc = await parse('looks-like.txt', makePdf([['Hello']]));
    expect(doc).toMatchObject({ format: 'pdf', text: 'Hello' });
    expect(doc.title).toBeUndefined();
  });

  it('recovers a damaged xref without printing pdfjs warnings', async () => {
    const log = vi.spyOn(console, 'log');
    const warn = vi.spyOn(console, 'warn');
    try {
      expect((await parse('damaged.pdf', damagedXrefPdf(['Still readable']))).text).toBe('Still readable');
      await refusal('cut.pdf', truncatedPdf());
      expect(log).not.toHaveBeenCalled();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      warn.mockRestore();
    }
  });

  it('refuses a truncated pdf with 422 unparseable_file', async () => {
    const err = await refusal('cut.pdf', truncatedPdf());
    expect(err).toMatchObject({ status: 422, code: 'unparseable_file' });
    expect(err.message).toMatch(/^cut\.pdf is not a readable PDF: /);
  });

  it('refuses a pdf with no text (a scan) with 422 no_text', async () => {
    const err = await refusal('scan.pdf', makePdf([[], []]));
    expect(err).toMatchObject({ status: 422, code: 'no_text' });
  });

  it('checks the page count before extracting, and the character count while extracting', async () => {
    const five = makePdf([['a'], ['b'], ['c'], ['d'], ['e']]);
    const pagesErr = await refusal('long.pdf', five, { ...LIMITS, maxPages: 3 });
    expect(pagesErr).toMatchObject({ status: 413, code: 'too_many_pages', message: 'long.pdf has 5 pages; the limit is 3' });

    const wordy = makePdf([['x'.repeat(60)], ['y'.repeat(60)], ['z'.repeat(60)]]);
    const charsErr = await refusal('wordy.pdf', wordy, { ...LIMITS, maxChars: 100 });
    expect(charsErr).toMatchObject({ status: 413, code: 'too_many_characters' });
    expect(charsErr.message).toBe('wordy.pdf reaches 122 characters of text by page 2 of 3; the limit is 100');
  });
});

describe('docx', () => {
  it('keeps headings, paragraphs, lists and tables as markdown, with the core title', async () => {
    const docx = await makeDocx({
      title: 'Travel & Expenses',
      blocks: [
        { heading: 'Travel policy' },
        { paragraph: 'Book trains under four hours.' },
        { heading: 'Limits', level: 2 },
        { list: ['Hotel: 150 EUR', 'Meals: 40 EUR'] },
        {
          table: [
            ['Item', 'Limit'],
            ['Hotel', '150'],
            ['Taxi | late', '30'],
          ],
        },
      ],
    });
    const doc = await parse('policy.docx', docx);
    expect(doc.format).toBe('docx');
    expect(doc.title).toBe('Travel & Expenses');
    expect(doc.text).toBe(
      [
        '# Travel policy',
        '',
        'Book trains under four hours.',
        '',
        '## Limits',
        '',
        '- Hotel: 150 EUR',
        '- Meals: 40 EUR',
        '',
        '| Item | Limit |',
        '| --- | --- |',
        '| Hotel | 150 |',
        '| Taxi \\| late | 30 |',
      ].join('\n'),
    );
  });

  it('refuses a file that starts like a zip but is not one (422), and a zip that is not a docx (415)', async () => {
    expect(await refusal('broken.docx', notAZipDocx())).toMatchObject({ status: 422, code: 'unparseable_file' });
    const zip = new JSZip();
    zip.file('photo.txt', 'not a word document');
    const err = await refusal('photos.docx', await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
    expect(err).toMatchObject({ status: 415, code: 'unsupported_file_type' });
    expect(err.message).toContain('not a Word .docx (it has no word/document.xml)');
  });

  it('refuses a docx with no text with 422 no_text', async () => {
    expect(await refusal('blank.docx', await makeDocx({ blocks: [] }))).toMatchObject({ status: 422, code: 'no_text' });
  });

  it('refuses zip bombs with 413 zip_bomb, fast and without inflating them', async () => {
    const honest = await makeZipBomb();
    const lying = await makeZipBomb({ declaredSize: 1000 });
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();

    const byTotal = await refusal('bomb.docx', honest);
    expect(byTotal).toMatchObject({ status: 413, code: 'zip_bomb' });
    expect(byTotal.message).toBe(`bomb.docx would inflate to 314572898 bytes; the limit is ${LIMITS.maxUnzippedBytes}`);
    // With a limit above the bomb's size, its compression ratio still gives it away.
    const byRatio = await refusal('bomb.docx', honest, { ...LIMITS, maxUnzippedBytes: 1024 ** 3 });
    expect(byRatio).toMatchObject({ status: 413, code: 'zip_bomb' });
    expect(byRatio.message).toMatch(/word\/document\.xml is compressed \d+:1/);
    // Declared sizes that lie are caught while inflating.
    const byInflating = await refusal('liar.docx', lying);
    expect(byInflating).toMatchObject({ status: 413, code: 'zip_bomb' });
    expect(byInflating.message).toBe('liar.docx: word/document.xml inflates to more than the 1000 bytes it declares');

    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });
});

describe('html', () => {
  it('keeps structure, drops scripts and styles, decodes entities and takes the <title>', async () => {
    const doc = await parse('travel.html', SAMPLE_HTML);
    expect(doc.format).toBe('html');
    expect(doc.title).toBe('Travel & expenses');
    expect(doc.text).toBe(
      [
        '# Travel policy',
        '',
        'Book trains when the trip is under four hours. Flights otherwise.',
        '',
        '## Limits',
        '',
        '- Hotel: 150 EUR',
        '- Meals: 40 EUR',
        '',
        '1. Submit receipts',
        '2. Wait for approval',
        '',
        '| Item | Limit |',
        '| --- | --- |',
        '| Hotel | 150 |',
        '',
        '```',
        'expense-cli submit --receipt photo.jpg',
        '```',
      ].join('\n'),
    );
    expect(doc.text).not.toMatch(/secret|color|JavaScript/);
  });

  it('nests lists and keeps <br> as a line break', async () => {
    const doc = await parse('nested.html', '<ul><li>Parent<ul><li>Child</li></ul></li><li>Next</li></ul><p>one<br>two</p>');
    expect(doc.text).toBe('- Parent\n  - Child\n- Next\n\none\ntwo');
  });
});

describe('csv', () => {
  it('renders a markdown table with the header repeated every 40 rows', async () => {
    const doc = await parse('people.csv', SAMPLE_CSV);
    expect(doc.format).toBe('csv');
    const tables = doc.text.split('\n\n');
    expect(tables).toHaveLength(3);
    for (const table of tables) expect(table.split('\n').slice(0, 2)).toEqual(['| name | team | city |', '| --- | --- | --- |']);
    expect(tables.map((t) => t.split('\n').length - 2)).toEqual([40, 40, 10]);
    expect(tables[0]).toContain('| person1 | team0 | city0 |');
    expect(tables[2]).toContain('| person90 | team2 | city4 |');
  });

  it('detects a semicolon delimiter and keeps quoted delimiters in their cell', async () => {
    const doc = await parse('prices.csv', 'item;price\n"bread; rye";2,50\n');
    expect(doc.text).toBe('| item | price |\n| --- | --- |\n| bread; rye | 2,50 |');
  });

  it('refuses inconsistent column counts with 422', async () => {
    const err = await refusal('ragged.csv', 'a,b,c\n1,2,3\n4,5\n');
    expect(err).toMatchObject({ status: 422, code: 'unparseable_file' });
    expect(err.message).toMatch(/^ragged\.csv is not a consistent table: .*line 3/);
  });
});

describe('json', () => {
  it('keeps each record of an array together as one block of key paths', async () => {
    const doc = await parse('people.json', SAMPLE_JSON);
    expect(doc.format).toBe('json');
    expect(doc.text.split('\n\n')).toEqual([
      'id: 1\nname: Ada\naddress.city: London\naddress.zip: N1\ntags: math, engines',
      'id: 2\nname: Grace\naddress.city: Arlington\naddress.zip: 22201\ntags: cobol',
    ]);
  });

  it('splits an object into its scalar fields and one block per record of its record lists', async () => {
    const doc = await parse(
      'export.json',
      JSON.stringify({
        source: 'crm',
        users: [
          { id: 1, roles: [] },
          { id: 2, meta: { on: true } },
        ],
      }),
    );
    expect(doc.text.split('\n\n')).toEqual(['source: crm', 'users[0]:\nid: 1\nroles: []', 'users[1]:\nid: 2\nmeta.on: true']);
  });

  it('refuses invalid JSON with 422 and where it broke', async () => {
    const err = await refusal('broken.json', '{\n  "a": 1,\n}');
    expect(err).toMatchObject({ status: 422, code: 'unparseable_file' });
    expect(err.message).toMatch(/^broken\.json is not valid JSON: .* \(line 3, column 1\)$/);
  });
});

describe('text and markdown', () => {
  it('passes text through with the BOM dropped, and takes a markdown title from the first # heading', async () => {
    const md = await parse('onboarding.md', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SAMPLE_MD)]));
    expect(md).toEqual({ format: 'markdown', text: SAMPLE_MD, title: 'Onboarding' });
    expect(await parse('notes.txt', 'plain words\n')).toEqual({ format: 'text', text: 'plain words\n' });
  });

  it('refuses empty and whitespace-only files, and text over the character limit', async () => {
    expect(await refusal('empty.txt', EMPTY)).toMatchObject({ status: 422, code: 'empty_file', message: 'empty.txt is empty (0 bytes)' });
    expect(await refusal('blank.md', '  \n\n ')).toMatchObject({ status: 422, code: 'no_text' });
    const err = await refusal('long.txt', 'a'.repeat(101), { ...LIMITS, maxChars: 100 });
    expect(err).toMatchObject({ status: 413, code: 'too_many_characters', message: 'long.txt has 101 characters of text; the limit is 100' });
  });

  it('refuses a binary file named .txt with 415, reading past the head', async () => {
    expect(await refusal('photo.txt', binaryAsTxt())).toMatchObject({ status: 415, code: 'unsupported_file_type' });
    // Valid UTF-8 for the first 8 KB, then not: only the full decode sees it.
    const late = Buffer.concat([Buffer.from('a'.repeat(9000)), Buffer.from([0xff, 0xfe])]);
    expect(await refusal('late.txt', late)).toMatchObject({ status: 415, code: 'unsupported_file_type' });
  });
});
