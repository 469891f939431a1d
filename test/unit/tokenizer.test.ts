import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { describe, expect, it } from 'vitest';
import { getTokenizer, type Tokenizer } from '../../src/tokens/tokenizer.js';

// Texts that exercise the split pattern and byte-pair merging: words, numbers, code, whitespace
// runs, accents, CJK, emoji (multi-byte pieces that need merges) and special-token look-alikes.
const corpus = [
  '',
  'hello world',
  'The quick brown fox jumps over the lazy dog. 1234567890 3.14159',
  "I'm sure they're here; WE'LL see. It's John's, isn't it? You'd've",
  '  leading and trailing spaces   \n\n\ttabs\r\n',
  '          \n   \n\n\n    x\t\t\t\r\r\n  ',
  'nbsp\u00a0and\u2003em\u3000ideographic\u200bzero-width',
  '0 00 000 0000 00000 123456789012345 1,000,000.00 -42 +7e10 0x1F 2023-05-08T13:56:00Z',
  'function add(a, b) { return a + b; } // comment\nconst x = [1, 2, 3].map((n) => n ** 2);',
  'def f(x):\n    if x:\n        return {"a": [1, 2]}\n    raise ValueError(f"bad {x!r}")\n',
  '<div class="a">&nbsp;&lt;tag&gt;</div> SELECT * FROM t WHERE id = $1; $$ @@ ## ~~~ ```ts',
  'Ça déménage à Zürich — naïve café façade, ÀÉÎÕÜ ÿ ß æ ø å',
  // Mojibake: the latin1 view of UTF-8 bytes must not be mistaken for the bytes themselves.
  'Ã©tÃ© cafÃ© Ã¼ber â€” â€œquotedâ€\u009d \u0080\u0081\u00ff',
  'Привет, как дела? Съешь же ещё этих мягких французских булок.',
  'مرحبا بالعالم، كيف حالك؟ שלום עולם, מה שלומך? \u200f\u200emixed RTL עם English',
  'e\u0301 a\u0300\u0316 Z̷̢̛̛͓̖̩a̸̡̛̱l̵̨̛g̶̢̛o̵̧̕ n\u0303 \u0301leading combining',
  'हिन्दी भाषा ภาษาไทย ქართული Ελληνικά አማርኛ',
  '日本語のテキストと中文混合，还有한국어도 있어요',
  '漢字'.repeat(60),
  'emoji 🚀🔥👩‍👩‍👧‍👦 and flags 🇵🇹🇫🇷 skin 👍🏽 keycap 1️⃣',
  '🚀'.repeat(50),
  'é'.repeat(200),
  // Lone surrogate halves encode as U+FFFD, as TextEncoder does.
  '\ud800',
  'a\udc00b \ud83d x\ud83d\ude80\ud83d',
  '\udfff\ud800\ud800 �',
  'special tokens as text: <|endoftext|> <|im_start|>user',
  '<|endoftext|><|endofprompt|><|fim_prefix|><|fim_middle|><|fim_suffix|><|im_end|>',
  'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
  'https://example.com/path?query=1&other=two#frag user@example.org',
  'x'.repeat(300),
  // Equal-rank pairs in one piece: the leftmost merges first, and the counts differ otherwise.
  'https://example.com/kgggim.jpg MBAAAAAAAAAAAAAAAEBQMGAAECB ICAQIFBAMBAAAAAAAAAQIRAy',
  'ab'.repeat(150),
  `${'lorem ipsum dolor sit amet '.repeat(40)}`,
];

// Random strings from a pool that mixes ASCII, latin1, multi-byte scripts, emoji and lone
// surrogates, so byte-pair merges run on many pieces nobody wrote by hand. Seeded: reproducible.
function fuzzCorpus(count: number): string[] {
  const pool = [...' \n\t  aAbBzZ09._-\'"{}()<|>ÿéßÀ\u0080\u00a0Жжשאمعहिக中文한🚀👍🏽\u0301', '\ud800', '\udc00'];
  let seed = 42;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(40) }, () => pool[next(pool.length)]).join(''));
}

// The LoCoMo conversations (shared/bench/README.md): ~16k real chat turns, observations and summaries.
const locomoDir = fileURLToPath(new URL('../../../shared/bench/locomo', import.meta.url));
const hasLocomo = existsSync(locomoDir);

function locomoTexts(): string[] {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') texts.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  for (const f of readdirSync(locomoDir).filter((f) => f.endsWith('.json'))) walk(JSON.parse(readFileSync(`${locomoDir}/${f}`, 'utf8')));
  return texts;
}

const encodings = [
  ['o200k_base', o200k],
  ['cl100k_base', cl100k],
] as const;

/** Texts whose count differs from js-tiktoken's `encode(text, [], [])`, with both counts. */
function mismatches(tok: Tokenizer, reference: Tiktoken, texts: readonly string[]): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  for (const text of texts) {
    const expected = reference.encode(text, [], []).length;
    const got = tok.count(text);
    if (got !== expected) out.push([text.slice(0, 40), got, expected]);
  }
  return out;
}

describe.each(encodings)('tokenizer %s', (name, ranks) => {
  // js-tiktoken's own encoder is the reference; the gateway never builds it (~115 MB each).
  const reference = new Tiktoken(ranks);
  const tok = getTokenizer(name);

  it('counts exactly what js-tiktoken encodes', () => {
    expect(mismatches(tok, reference, corpus)).toEqual([]);
  });

  it('counts random mixed-script text exactly', () => {
    expect(mismatches(tok, reference, fuzzCorpus(2000))).toEqual([]);
  });

  it.skipIf(!hasLocomo)('counts the LoCoMo corpus exactly, turn by turn and whole (skipped without shared/bench/locomo)', () => {
    const texts = locomoTexts();
    expect(texts.length).toBeGreaterThan(1000);
    expect(mismatches(tok, reference, [...texts, texts.join('\n')])).toEqual([]);
  });

  it('is built once per process', () => {
    expect(getTokenizer(name)).toBe(tok);
  });
});

describe('tokenizer framing', () => {
  it('counts chat messages with OpenAI framing', () => {
    const tok = getTokenizer('cl100k_base');
    expect(tok.count('hello world')).toBe(2);
    // 3 framing + "user" (1) + "hello world" (2)
    expect(tok.countMessage({ role: 'user', content: 'hello world' })).toBe(6);
    expect(tok.countMessage({ role: 'user', content: [{ type: 'text', text: 'hello world' }] })).toBe(6);
    expect(tok.countMessage({ role: 'user', name: 'ada', content: 'hello world' })).toBe(6 + 1 + tok.count('ada'));
  });
});
