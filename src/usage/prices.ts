import type { Config } from '../config/schema.js';

/** USD per million tokens: input, input read from the provider's prompt cache, output. */
export interface Price {
  input: number;
  cachedInput?: number | undefined;
  output: number;
}

/**
 * List prices of common hosted models (USD per million tokens, as published by their providers in
 * 2025). A dated snapshot ("gpt-4o-2024-08-06") takes the price of its longest listed prefix. The
 * config overrides them (`prices.<model>`, or `models.<alias>.price` for one alias); a model with no
 * price (a local one) costs 0.
 */
const LIST: Readonly<Record<string, Price>> = {
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  'claude-opus-4': { input: 15, cachedInput: 1.5, output: 75 },
  'claude-sonnet-4': { input: 3, cachedInput: 0.3, output: 15 },
  'claude-3-7-sonnet': { input: 3, cachedInput: 0.3, output: 15 },
  'claude-3-5-sonnet': { input: 3, cachedInput: 0.3, output: 15 },
  'claude-haiku-4': { input: 1, cachedInput: 0.1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, cachedInput: 0.08, output: 4 },
};

export function createPriceTable(config: Config) {
  const table: Record<string, Price> = { ...LIST, ...config.prices };
  const names = Object.keys(table).sort((a, b) => b.length - a.length);
  const memo = new Map<string, Price | undefined>();

  /** The price of an upstream model name: exact, else its longest listed prefix. */
  function ofModel(model: string): Price | undefined {
    if (memo.has(model)) return memo.get(model);
    const name = table[model] ? model : names.find((n) => model.startsWith(`${n}-`) || model.startsWith(`${n}:`));
    const price = name ? table[name] : undefined;
    if (memo.size < 10_000) memo.set(model, price);
    return price;
  }

  return {
    ofModel,
    /** The alias's own price if it has one, else the upstream model's. */
    of(alias: string, model: string | undefined): Price | undefined {
      return config.models[alias]?.price ?? (model ? ofModel(model) : undefined);
    },
    /** USD for these tokens; `cached` of the prompt tokens were read from the provider's cache. */
    cost(price: Price | undefined, t: { prompt: number; cached: number; completion: number }): number {
      if (!price) return 0;
      const cached = Math.min(t.cached, t.prompt);
      return ((t.prompt - cached) * price.input + cached * (price.cachedInput ?? price.input) + t.completion * price.output) / 1_000_000;
    },
  };
}

export type PriceTable = ReturnType<typeof createPriceTable>;
