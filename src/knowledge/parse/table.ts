/** Markdown tables, shared by the HTML (and so .docx) converter and the CSV renderer. */

/** A cell on one line, with '|' escaped so it cannot split the row. */
export const cellText = (s: string): string => s.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|');

/** Rows as '| a | b |' lines, the first row as header; short rows are padded so columns line up. */
export function markdownTable(rows: string[][]): string[] {
  const width = Math.max(1, ...rows.map((r) => r.length));
  const line = (r: string[]) => `| ${Array.from({ length: width }, (_, i) => r[i] ?? '').join(' | ')} |`;
  const [header, ...body] = rows;
  return [line(header ?? []), line(Array.from({ length: width }, () => '---')), ...body.map(line)];
}
