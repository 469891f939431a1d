import type { Embedder } from '../../embeddings/port.js';
import type { Tokenizer } from '../../tokens/tokenizer.js';

/** A sentence offered to the summary, with the prefix (day, speaker) it is rendered under. */
export interface SummarySentence {
  prefix: string;
  text: string;
}

/** Where a sentence ends: . ! ? (or a CJK stop) followed by space, or a line break. */
const SENTENCE_END = /(?<=[.!?。！？])\s+(?=\S)|\n+/;
/** Sentences shorter than this many words say too little to be worth a summary line. */
const MIN_WORDS = 4;
/** Names, numbers and dates are what a summary must not lose: such sentences rank a little higher. */
const SPECIFIC = /\d|(?<=\S\s+)[A-Z][a-z]/;
const SPECIFIC_BONUS = 0.1;

export function splitSentences(text: string): string[] {
  return text
    .split(SENTENCE_END)
    .map((s) => s.trim())
    .filter((s) => s.split(/\s+/).length >= MIN_WORDS);
}

/**
 * An extractive summary for when no model is configured: the sentences most central to the rest
 * (mean cosine similarity to every other sentence, over the local embeddings — LexRank's degree
 * centrality without a threshold), slightly favouring ones that carry names, numbers or dates, taken
 * best first while they fit `maxTokens`, and written back in their original order. The previous
 * summary's lines compete with the new turns' sentences, so what stays central stays in.
 */
export async function extractiveSummary(sentences: readonly SummarySentence[], deps: { embedder: Embedder; tokenizer: Tokenizer; maxTokens: number }): Promise<string> {
  if (sentences.length === 0) return '';
  const vectors = await deps.embedder.embed(
    sentences.map((s) => s.text),
    { kind: 'document' },
  );
  const n = sentences.length;
  const norms = vectors.map((v) => Math.sqrt(dot(v, v)) || 1);
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sim = Math.max(0, dot(vectors[i] as Float32Array, vectors[j] as Float32Array) / ((norms[i] as number) * (norms[j] as number)));
      score[i] = (score[i] as number) + sim;
      score[j] = (score[j] as number) + sim;
    }
  }
  const ranked = sentences
    .map((s, i) => ({ i, line: `${s.prefix}${s.text}`, score: (score[i] as number) / Math.max(1, n - 1) + (SPECIFIC.test(s.text) ? SPECIFIC_BONUS : 0) }))
    .sort((a, b) => b.score - a.score || a.i - b.i);
  const chosen: Array<{ i: number; line: string }> = [];
  let used = 0;
  for (const r of ranked) {
    const cost = deps.tokenizer.count(r.line) + 1;
    if (used + cost > deps.maxTokens) continue;
    chosen.push(r);
    used += cost;
  }
  return chosen
    .sort((a, b) => a.i - b.i)
    .map((c) => c.line)
    .join('\n');
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}
