import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParseError } from '../../src/knowledge/parse/index.js';
import { createParser } from '../../src/knowledge/parse/pool.js';
import { chunkDocument } from '../../src/knowledge/chunk-vectors.js';
import { getTokenizer } from '../../src/tokens/tokenizer.js';
import { binaryAsTxt, makePdf } from '../helpers/files.js';

// The parser thread: real worker threads parsing real files. A refusal keeps the thread; a parse
// that runs out of time costs the thread (restarted for the next file), never the caller. (Running
// out of heap is not tested: where V8 hits the limit decides whether it ends the thread or, in rare
// allocation paths, the process — too brittle to provoke on purpose in CI.)

const limits = { maxChars: 1_000_000, maxPages: 100, maxUnzippedBytes: 50 * 1024 * 1024 };
const dir = mkdtempSync(join(tmpdir(), 'parser-pool-'));
const file = (name: string, bytes: Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parser thread', () => {
  it('parses files off the main thread and answers refusals as ParseErrors with their status', async () => {
    const parser = createParser({ heapMb: 256 });
    try {
      const pdf = await parser.parse(file('a.pdf', makePdf([['First page.'], ['Second page.']])), 'a.pdf', limits);
      expect(pdf.format).toBe('pdf');
      const text = new TextDecoder().decode(pdf.utf8);
      expect(text.length).toBe(pdf.chars);
      expect(pdf.pages?.map((p) => text.slice(p.start, p.end).trim())).toEqual(['First page.', 'Second page.']);
      const refused = await parser.parse(file('b.txt', binaryAsTxt()), 'b.txt', limits).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ParseError);
      expect(refused).toMatchObject({ status: 415, code: 'unsupported_file_type' });
      // The same thread goes on.
      expect((await parser.parse(file('c.md', Buffer.from('# Title\n\nBody.')), 'c.md', limits)).format).toBe('markdown');
    } finally {
      await parser.close();
    }
  });

  it('refuses a file that takes too long with a 422, and parses the next one on a fresh thread', async () => {
    const parser = createParser({ heapMb: 256, timeoutMs: 1 });
    try {
      const slow = await parser.parse(file('slow.pdf', makePdf(Array.from({ length: 40 }, (_, i) => [`Page ${i}`]))), 'slow.pdf', limits).catch((e: unknown) => e);
      expect(slow).toMatchObject({ status: 422, code: 'unparseable_file' });
      expect((slow as Error).message).toMatch(/slow\.pdf could not be parsed: it took longer than/);
    } finally {
      await parser.close();
    }
    const next = createParser({ heapMb: 256 });
    try {
      expect((await next.parse(file('d.md', Buffer.from('# D')), 'd.md', limits)).format).toBe('markdown');
    } finally {
      await next.close();
    }
  });

  it("cuts a document into the same chunks and passages as the ingestor's own thread would", async () => {
    const section = (n: number) =>
      `## Part ${n}\n\n${Array.from({ length: 12 }, (_, i) => `Sentence ${i} of part ${n} talks about café prices, 7 € a cup, and why 😀 helps.`).join(' ')}\n\n- a list item\n- another one\n`;
    const text = `# Guide\n\n${Array.from({ length: 8 }, (_, n) => section(n)).join('\n')}`;
    const settings = { targetTokens: 96, overlapTokens: 16, passageTokens: 40 };
    const parser = createParser({ heapMb: 256 });
    try {
      const chunks = await parser.chunk(text, settings, 'document doc_1');
      expect(chunks).toEqual(chunkDocument(text, getTokenizer('o200k_base'), settings));
      expect(chunks.length).toBeGreaterThan(8);
      for (const c of chunks) {
        expect(text.slice(c.start, c.end)).toBe(c.text);
        expect(c.passages.length).toBeGreaterThan(0);
      }
      // The same thread still parses files.
      expect((await parser.parse(file('g.md', Buffer.from('# G')), 'g.md', limits)).format).toBe('markdown');
    } finally {
      await parser.close();
    }
    const timed = createParser({ heapMb: 256, timeoutMs: 1 });
    try {
      const refused = await timed.chunk(text.repeat(50), settings, 'document doc_2').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ParseError);
      expect((refused as Error).message).toMatch(/document doc_2 could not be chunked: it took longer than/);
    } finally {
      await timed.close();
    }
  });

  it('rejects what is queued when it closes', async () => {
    const parser = createParser({ heapMb: 256 });
    const path = file('f.md', Buffer.from('# F'));
    const pending = [parser.parse(path, 'f.md', limits), parser.parse(path, 'f.md', limits)].map((p) => p.catch((e: Error) => e.message));
    await parser.close();
    for (const r of await Promise.all(pending)) expect(typeof r === 'string' ? r : 'parsed').toMatch(/closed|shutting down|parsed/);
    await expect(parser.parse(path, 'f.md', limits)).rejects.toThrow('closed');
  });
});
