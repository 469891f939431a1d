/**
 * What the gateway knows about model families: context window and tokenizer encoding. Config's
 * `models.<alias>.contextWindow` / `encoding` override these. Unknown models get a conservative
 * window so a prompt is never assembled over a small model's limit.
 */
export type Encoding = 'o200k_base' | 'cl100k_base';

export interface ModelInfo {
  contextWindow: number;
  encoding: Encoding;
  /** True when the encoding is the model's own; false when it only approximates (other vendors). */
  exact: boolean;
}

// Ordered: the first prefix that matches wins, so specific names come before their family.
const KNOWN: ReadonlyArray<readonly [prefix: string, info: ModelInfo]> = [
  ['gpt-4.1', { contextWindow: 1_047_576, encoding: 'o200k_base', exact: true }],
  ['gpt-4o', { contextWindow: 128_000, encoding: 'o200k_base', exact: true }],
  ['gpt-5', { contextWindow: 400_000, encoding: 'o200k_base', exact: true }],
  ['o1', { contextWindow: 200_000, encoding: 'o200k_base', exact: true }],
  ['o3', { contextWindow: 200_000, encoding: 'o200k_base', exact: true }],
  ['o4', { contextWindow: 200_000, encoding: 'o200k_base', exact: true }],
  ['gpt-4-turbo', { contextWindow: 128_000, encoding: 'cl100k_base', exact: true }],
  ['gpt-4', { contextWindow: 8_192, encoding: 'cl100k_base', exact: true }],
  ['gpt-3.5-turbo', { contextWindow: 16_385, encoding: 'cl100k_base', exact: true }],
  ['claude', { contextWindow: 200_000, encoding: 'cl100k_base', exact: false }],
  ['llama-3', { contextWindow: 128_000, encoding: 'cl100k_base', exact: false }],
  ['llama3', { contextWindow: 128_000, encoding: 'cl100k_base', exact: false }],
  ['mistral', { contextWindow: 32_768, encoding: 'cl100k_base', exact: false }],
  ['qwen', { contextWindow: 32_768, encoding: 'cl100k_base', exact: false }],
];

/** The fallback for models nobody configured: small enough for any current chat model. */
export const UNKNOWN_MODEL: ModelInfo = { contextWindow: 8_192, encoding: 'cl100k_base', exact: false };

export function lookupModel(upstreamModel: string): ModelInfo {
  const name = upstreamModel.toLowerCase().replace(/^.*\//, '');
  for (const [prefix, info] of KNOWN) if (name.startsWith(prefix)) return info;
  return UNKNOWN_MODEL;
}
