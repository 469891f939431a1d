import type { Config } from '../config/schema.js';
import { createAnthropicProvider } from './anthropic/provider.js';
import { createOpenAiCompatibleProvider } from './openai-compatible/provider.js';
import type { LlmProvider } from './types.js';

/** One LlmProvider per configured provider name. */
export function createProviders(config: Config): Map<string, LlmProvider> {
  const out = new Map<string, LlmProvider>();
  for (const [name, p] of Object.entries(config.providers)) {
    out.set(
      name,
      p.kind === 'anthropic'
        ? createAnthropicProvider({ apiKey: p.apiKey ?? '', headers: p.headers, ...(p.baseUrl ? { baseUrl: p.baseUrl } : {}) })
        : createOpenAiCompatibleProvider({ name, baseUrl: p.baseUrl as string, apiKey: p.apiKey, headers: p.headers, streamUsage: p.streamUsage }),
    );
  }
  return out;
}
