import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createPriceTable } from '../../src/usage/prices.js';

describe('price table', () => {
  const config = loadConfig(
    {},
    {
      providers: { up: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
      models: { own: { targets: [{ provider: 'up', model: 'gpt-4o' }], price: { input: 1, output: 2 } } },
      prices: { 'my-model': { input: 3, cachedInput: 1, output: 6 }, 'gpt-4o': { input: 5, output: 15 } },
    },
  );
  const prices = createPriceTable(config);

  it('prices a model exactly, by its longest listed prefix, by the config, or not at all', () => {
    expect(prices.of('any', 'gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, cachedInput: 0.075, output: 0.6 });
    expect(prices.of('any', 'claude-sonnet-4-5-20250929')).toMatchObject({ input: 3, output: 15 });
    // The config overrides the list, and an alias's own price wins over both.
    expect(prices.of('any', 'gpt-4o')).toEqual({ input: 5, output: 15 });
    expect(prices.of('own', 'gpt-4o')).toEqual({ input: 1, output: 2 });
    expect(prices.of('any', 'llama3.1:8b')).toBeUndefined();
    expect(prices.of('any', 'gpt-4o2')).toBeUndefined();
  });

  it('costs cached prompt tokens at the cached rate, and nothing without a price', () => {
    const p = prices.of('any', 'my-model');
    expect(prices.cost(p, { prompt: 1000, cached: 400, completion: 100 })).toBeCloseTo((600 * 3 + 400 * 1 + 100 * 6) / 1e6, 12);
    expect(prices.cost({ input: 2, output: 4 }, { prompt: 10, cached: 10, completion: 0 })).toBeCloseTo(20 / 1e6, 12);
    expect(prices.cost(undefined, { prompt: 10, cached: 0, completion: 10 })).toBe(0);
  });
});
