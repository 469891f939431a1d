import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { describe, expect, it } from 'vitest';
import { getTokenizer } from '../../src/tokens/tokenizer.js';

// Texts that exercise the split pattern and byte-pair merging: words, numbers, code, whitespace
// runs, accents, CJK, emoji (multi-byte pieces that need merges) and special-token look-alikes.
const corpus = [
  'hello world',
  'The quick brown fox jumps over the lazy dog. 1234567890 3.14159',
  '  leading and trailing spaces   \n\n\ttabs\r\n',
  'function add(a, b) { return a + b; } // comment\nconst x = [1, 2, 3].map((n) => n ** 2);',
  'Ça déménage à Zürich — naïve café façade',
  '日本語のテキストと中文混合，还有한국어도 있어요',
  'emoji 🚀🔥👩‍👩‍👧‍👦 and flags 🇵🇹🇫🇷',
  'special tokens as text: <|endoftext|> <|im_start|>user',
  'supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
  'https://example.com/path?query=1&other=two#frag user@example.org',
  'x'.repeat(300),
  `${'lorem ipsum dolor sit amet '.repeat(40)}`,
];

describe('tokenizer', () => {
  it.each([
    ['o200k_base', o200k],
    ['cl100k_base', cl100k],
  ] as const)('%s: counts exactly what js-tiktoken encodes', (name, ranks) => {
    const reference = new Tiktoken(ranks);
    const tok = getTokenizer(name);
    for (const text of corpus) expect([text.slice(0, 20), tok.count(text)]).toEqual([text.slice(0, 20), reference.encode(text, [], []).length]);
  });

  it('counts chat messages with OpenAI framing', () => {
    const tok = getTokenizer('cl100k_base');
    expect(tok.count('hello world')).toBe(2);
    // 3 framing + "user" (1) + "hello world" (2)
    expect(tok.countMessage({ role: 'user', content: 'hello world' })).toBe(6);
    expect(tok.countMessage({ role: 'user', content: [{ type: 'text', text: 'hello world' }] })).toBe(6);
    expect(tok.countMessage({ role: 'user', name: 'ada', content: 'hello world' })).toBe(6 + 1 + tok.count('ada'));
  });
});
