import { describe, expect, it } from 'vitest';
import { chunkText, passages } from '../../src/knowledge/chunker.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';

const tok = getTokenizer('o200k_base');

const DOC = `# Employee handbook

Welcome to the company. This handbook explains how we work.

## Leave

### Holidays

Everyone gets 25 days of paid holiday per year. Unused days carry over until March. Ask your manager two weeks ahead.

- Public holidays are extra.
- Part-time staff get a pro-rata share.

### Sick leave

Tell your manager on the first day.

## Expenses

| item | limit |
|------|-------|
| hotel | 150 EUR |
| meals | 40 EUR |

\`\`\`
expense-cli submit --receipt photo.jpg
\`\`\`
`;

describe('chunkText', () => {
  it('keeps sections apart with their heading paths, and every chunk is an exact slice of the source', () => {
    const chunks = chunkText(DOC, tok, { targetTokens: 200, overlapTokens: 0 });
    for (const c of chunks) {
      expect(DOC.slice(c.start, c.end)).toBe(c.text);
      expect(c.tokens).toBe(tok.count(c.text));
    }
    expect(chunks.map((c) => c.headingPath)).toEqual([
      ['Employee handbook'],
      ['Employee handbook', 'Leave'],
      ['Employee handbook', 'Leave', 'Holidays'],
      ['Employee handbook', 'Leave', 'Sick leave'],
      ['Employee handbook', 'Expenses'],
    ]);
    const holidays = chunks[2]?.text ?? '';
    expect(holidays.startsWith('### Holidays')).toBe(true);
    expect(holidays).toContain('- Part-time staff get a pro-rata share.');
    // The table and the code block stay whole, under their section.
    const expenses = chunks[4]?.text ?? '';
    expect(expenses).toContain('| meals | 40 EUR |');
    expect(expenses.endsWith('```')).toBe(true);
  });

  it('splits a block larger than the target at sentence boundaries, with overlap, never over the target', () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about topic ${i % 5} in some detail.`);
    const text = `# Long\n\n${sentences.join(' ')}\n`;
    const chunks = chunkText(text, tok, { targetTokens: 60, overlapTokens: 15 });
    expect(chunks.length).toBeGreaterThan(4);
    for (const c of chunks) {
      expect(text.slice(c.start, c.end)).toBe(c.text);
      expect(c.tokens).toBeLessThanOrEqual(60 + 2); // units are counted alone; joining may differ by a token
      expect(c.headingPath).toEqual(['Long']);
    }
    // Each later chunk starts with the last sentence of the one before (overlap), and no sentence is cut.
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]?.text ?? '';
      const first = (chunks[i]?.text ?? '').split(/(?<=\.)\s+/)[0] as string;
      expect(prev.endsWith(first)).toBe(true);
      expect(first).toMatch(/^Sentence number \d+ .*\.$/);
    }
    // Together they cover every sentence.
    const covered = new Set(chunks.flatMap((c) => [...c.text.matchAll(/Sentence number (\d+)/g)].map((m) => m[1])));
    expect(covered.size).toBe(40);
  });

  it('cuts a long list or code block between lines, never inside one', () => {
    const code = `\`\`\`js\n${Array.from({ length: 60 }, (_, i) => `const value${i} = compute(${i}, 'x');`).join('\n')}\n\`\`\`\n`;
    const chunks = chunkText(code, tok, { targetTokens: 80, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      for (const line of c.text.split('\n')) expect(line).toMatch(/^(```js|```|const value\d+ = compute\(\d+, 'x'\);)$/);
    }
  });

  it('handles plain text, blank input and CRLF line ends', () => {
    expect(chunkText('', tok, { targetTokens: 100, overlapTokens: 10 })).toEqual([]);
    expect(chunkText('   \n\n  ', tok, { targetTokens: 100, overlapTokens: 10 })).toEqual([]);
    const plain = 'Just one line of text.';
    expect(chunkText(plain, tok, { targetTokens: 100, overlapTokens: 10 })).toEqual([{ text: plain, start: 0, end: plain.length, headingPath: [], tokens: tok.count(plain) }]);
    const crlf = '# Title\r\n\r\nBody line one.\r\nBody line two.\r\n';
    const [c] = chunkText(crlf, tok, { targetTokens: 100, overlapTokens: 0 });
    expect(c?.headingPath).toEqual(['Title']);
    expect(crlf.slice(c?.start, c?.end)).toBe(c?.text);
  });
});

describe('passages', () => {
  const para = (n: number) => `Paragraph ${n} says something about topic ${n}, at some length, so that it costs a few tokens.`;

  it('groups whole paragraphs in order while they fit, and keeps every word once', () => {
    const text = [1, 2, 3, 4, 5].map(para).join('\n\n');
    const each = tok.count(para(1));
    const out = passages(text, tok, each * 2 + 2);
    expect(out).toEqual([`${para(1)}\n${para(2)}`, `${para(3)}\n${para(4)}`, para(5)]);
  });

  it('splits a paragraph longer than the limit at sentences, and leaves a text that fits whole', () => {
    const long = 'First sentence here. Second sentence follows it. Third one closes.';
    const out = passages(long, tok, 6);
    expect(out).toEqual(['First sentence here.', 'Second sentence follows it.', 'Third one closes.']);
    for (const p of out) expect(tok.count(p)).toBeLessThanOrEqual(6);
    expect(passages(long, tok, 100)).toEqual([long]);
  });

  it('keeps the text as one passage at 0, and gives none for blank text', () => {
    const text = [1, 2, 3].map(para).join('\n\n');
    expect(passages(text, tok, 0)).toEqual([text]);
    expect(passages('  \n\n ', tok, 50)).toEqual([]);
  });
});
