/**
 * A valid PDF 1.4 for tests and benchmarks: catalog, page tree, a standard Helvetica font, one
 * content stream per page and an /Info dictionary. The xref offsets are counted while writing,
 * since pdfjs trusts them first. ASCII text only (the strings are written as latin1). Plain
 * JavaScript so the benchmarks (which run without a TypeScript loader) share it with the tests.
 */

/** Escapes a PDF literal string: backslash and both parentheses. */
function pdfString(s) {
  return `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** `pages`: the lines of each page. `fontSize` and `leading` in points (defaults 12 and 16). */
export function makePdf(pages, opts = {}) {
  const size = opts.fontSize ?? 12;
  const leading = opts.leading ?? 16;
  // Objects 1 catalog, 2 pages, 3 font, 4 info, then (page, content) pairs.
  const pageIds = pages.map((_, i) => 5 + 2 * i);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Producer (context-gateway tests)${opts.title === undefined ? '' : ` /Title ${pdfString(opts.title)}`} >>`,
  ];
  pages.forEach((lines, i) => {
    const shows = lines.map((line, j) => `${j === 0 ? '72 740 Td' : `0 -${leading} Td`} ${pdfString(line)} Tj`);
    const content = `BT /F1 ${size} Tf ${shows.join(' ')} ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageIds[i] + 1} 0 R >>`);
    objects.push(`<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`);
  });

  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xrefAt = Buffer.byteLength(out, 'latin1');
  // Each xref entry is exactly 20 bytes, hence the space before the newline.
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
