import { createDeflateRaw, crc32, deflateRawSync } from 'node:zlib';
import JSZip from 'jszip';

/**
 * Builders for the document files the upload parsers read. Every file is made at test time so no
 * binary sits in the repository, and each builder writes the smallest structure the real readers
 * (pdfjs-dist, mammoth, yauzl) accept, so a failure points at the parser, not at the fixture.
 */

export { makePdf } from './pdf.mjs';
import { makePdf } from './pdf.mjs';

export type DocxBlock = { heading: string; level?: number } | { paragraph: string } | { list: string[] } | { table: string[][] };

const W_NS = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main';

function xmlEscape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function wParagraph(text: string, pPr = ''): string {
  return `<w:p>${pPr ? `<w:pPr>${pPr}</w:pPr>` : ''}<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r></w:p>`;
}

function wBlock(block: DocxBlock): string {
  if ('heading' in block) return wParagraph(block.heading, `<w:pStyle w:val="Heading${block.level ?? 1}"/>`);
  if ('paragraph' in block) return wParagraph(block.paragraph);
  // numId 1 is the bullet list defined in word/numbering.xml below.
  if ('list' in block) return block.list.map((item) => wParagraph(item, '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>')).join('');
  const rows = block.table.map((row) => `<w:tr>${row.map((cell) => `<w:tc>${wParagraph(cell)}</w:tc>`).join('')}</w:tr>`);
  return `<w:tbl>${rows.join('')}</w:tbl>`;
}

/**
 * A minimal .docx: content types, package relationships, the document, a bullet numbering (so
 * mammoth renders list paragraphs as <ul>) and, with a title, docProps/core.xml. Headings use the
 * style ids Heading1..6, which mammoth's default style map turns into h1..h6 without a styles.xml.
 */
export async function makeDocx(doc: { title?: string; blocks: DocxBlock[] }): Promise<Buffer> {
  const zip = new JSZip();
  const core = doc.title !== undefined;
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>' +
      '<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>' +
      (core ? '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>' : '') +
      '</Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
      '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>' +
      (core
        ? '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        : '') +
      '</Relationships>',
  );
  zip.file(
    'word/document.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="${W_NS}"><w:body>${doc.blocks.map(wBlock).join('')}</w:body></w:document>`,
  );
  zip.file(
    'word/numbering.xml',
    `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:numbering xmlns:w="${W_NS}">` +
      '<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/></w:lvl></w:abstractNum>' +
      '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>',
  );
  if (core) {
    zip.file(
      'docProps/core.xml',
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">' +
        `<dc:title>${xmlEscape(doc.title!)}</dc:title></cp:coreProperties>`,
    );
  }
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

interface ZipEntry {
  name: string;
  /** Raw-deflated bytes. */
  deflated: Buffer;
  crc: number;
  size: number;
}

/**
 * Writes a zip by hand (local headers, central directory, end record) so a test can state any
 * uncompressed size it likes, which jszip would not let it do.
 */
function writeZip(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(e.crc, 14);
    local.writeUInt32LE(e.deflated.length, 18);
    local.writeUInt32LE(e.size, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(e.crc, 16);
    dir.writeUInt32LE(e.deflated.length, 20);
    dir.writeUInt32LE(e.size, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    parts.push(local, name, e.deflated);
    central.push(dir, name);
    offset += local.length + name.length + e.deflated.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dirBytes, end]);
}

function deflated(name: string, text: string): ZipEntry {
  const data = Buffer.from(text, 'utf8');
  return { name, deflated: deflateRawSync(data), crc: crc32(data), size: data.length };
}

/** Deflates `total` bytes of one repeated character, fed in 1 MB chunks so the builder never holds them all. */
async function deflateRepeated(total: number): Promise<Omit<ZipEntry, 'name'>> {
  const chunk = Buffer.alloc(1 << 20, 'a');
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve).on('error', reject);
  });
  let crc = 0;
  for (let left = total; left > 0; left -= chunk.length) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return { deflated: Buffer.concat(out), crc, size: total };
}

/** The inflated size of the zip bomb's word/document.xml. */
export const ZIP_BOMB_BYTES = 300 * 1024 * 1024;

/**
 * A docx-shaped zip whose word/document.xml inflates to ~300 MB (a few hundred KB on disk). With
 * `declaredSize` the headers state that size instead of the true one, as a bomb meant to slip
 * past a check of declared sizes would.
 */
export async function makeZipBomb(opts: { declaredSize?: number } = {}): Promise<Buffer> {
  const bomb = await deflateRepeated(ZIP_BOMB_BYTES);
  return writeZip([
    deflated('[Content_Types].xml', '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
    { ...bomb, name: 'word/document.xml', size: opts.declaredSize ?? bomb.size },
  ]);
}

/** The first 60% of a valid PDF: the header is right, the xref and trailer are gone. */
export function truncatedPdf(): Buffer {
  const pdf = makePdf([['This document was cut short.'], ['Page two never arrives.']], { title: 'Cut' });
  return pdf.subarray(0, Math.floor(pdf.length * 0.6));
}

/**
 * A PDF whose xref offsets are all wrong (bytes inserted after the header). pdfjs recovers by
 * scanning the whole file, and says so with a warning unless its verbosity is 0.
 */
export function damagedXrefPdf(lines: string[]): Buffer {
  const pdf = makePdf([lines]);
  const afterHeader = pdf.indexOf('\n1 0 obj');
  return Buffer.concat([pdf.subarray(0, afterHeader), Buffer.from('\n% padding that moves every object\n'), pdf.subarray(afterHeader)]);
}

/** Starts like a zip (PK\x03\x04) and then is noise: what a renamed or damaged .docx looks like. */
export function notAZipDocx(): Buffer {
  const noise = Buffer.alloc(512);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + 13) % 251;
  return Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), noise]);
}

/** Text-looking bytes with NULs in them, as in an executable or an image renamed to .txt. */
export function binaryAsTxt(): Buffer {
  return Buffer.concat([Buffer.from('MZ header text'), Buffer.from([0, 0, 1, 2, 0xff, 0xfe, 0]), Buffer.from('more')]);
}

export const EMPTY = Buffer.alloc(0);

export const SAMPLE_HTML = `<!DOCTYPE html>
<html><head><title>Travel &amp; expenses</title><style>body { color: red }</style>
<script>window.secret = "do not index";</script></head>
<body>
<h1>Travel policy</h1>
<p>Book trains   when the trip is under <b>four hours</b>.&nbsp;Flights otherwise.</p>
<h2>Limits</h2>
<ul><li>Hotel: 150 EUR</li><li>Meals: 40 EUR</li></ul>
<ol><li>Submit receipts</li><li>Wait for approval</li></ol>
<table><tr><th>Item</th><th>Limit</th></tr><tr><td>Hotel</td><td>150</td></tr></table>
<pre><code>expense-cli submit --receipt photo.jpg</code></pre>
<noscript>Enable JavaScript</noscript>
</body></html>`;

export const SAMPLE_MD = `# Onboarding

Welcome aboard.

## First week

- Meet your buddy
- Set up your laptop
`;

export const SAMPLE_CSV = ['name,team,city', ...Array.from({ length: 90 }, (_, i) => `person${i + 1},team${i % 3},city${i % 5}`)].join('\n') + '\n';

export const SAMPLE_JSON = JSON.stringify([
  { id: 1, name: 'Ada', address: { city: 'London', zip: 'N1' }, tags: ['math', 'engines'] },
  { id: 2, name: 'Grace', address: { city: 'Arlington', zip: '22201' }, tags: ['cobol'] },
]);
