import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const tmp = (name: string, text: string) => {
  const p = join(tmpdir(), `${Date.now()}-${Math.random().toString(36).slice(2)}-${name}`);
  writeFileSync(p, text);
  return p;
};

describe('loadConfig', () => {
  it('works with no configuration at all (the embedded default)', () => {
    const c = loadConfig({});
    expect(c.database.url).toBeUndefined();
    expect(c.database.dataDir).toBe('./data');
    expect(c.redis.url).toBeUndefined();
    expect(c.server.port).toBe(8080);
    expect(Object.isFrozen(c.server)).toBe(true);
  });

  it('overlays environment variables on the file', () => {
    const file = tmp('c.json', JSON.stringify({ server: { port: 1234, host: '127.0.0.1' }, providers: { local: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1' } } }));
    const c = loadConfig({ CONFIG_FILE: file, PORT: '9999', REDIS_URL: 'redis://r:6379' });
    expect(c.server).toMatchObject({ port: 9999, host: '127.0.0.1' });
    expect(c.redis.url).toBe('redis://r:6379');
    expect(c.providers.local?.baseUrl).toBe('http://127.0.0.1:11434/v1');
  });

  it('reads YAML and resolves apiKeyEnv from the environment', () => {
    const file = tmp('c.yaml', 'providers:\n  oai:\n    kind: openai\n    baseUrl: https://api.openai.com/v1\n    apiKeyEnv: MY_KEY\nmodels:\n  fast:\n    targets: [{ provider: oai, model: gpt-4o-mini }]\n');
    const c = loadConfig({ CONFIG_FILE: file, MY_KEY: 'sk-123' });
    expect(c.providers.oai?.apiKey).toBe('sk-123');
    expect(c.models.fast?.targets[0]).toMatchObject({ provider: 'oai', model: 'gpt-4o-mini' });
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow('providers.oai.apiKeyEnv: environment variable MY_KEY is not set');
  });

  it('adds providers from OPENAI_API_KEY and ANTHROPIC_API_KEY', () => {
    const c = loadConfig({ OPENAI_API_KEY: 'sk-a', ANTHROPIC_API_KEY: 'sk-b' });
    expect(c.providers.openai).toMatchObject({ kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-a' });
    expect(c.providers.anthropic).toMatchObject({ kind: 'anthropic', apiKey: 'sk-b' });
  });

  it.each([
    [{ PORT: '70000' }, 'server.port'],
    [{ LOG_LEVEL: 'loud' }, 'log.level'],
    [{ ADMIN_API_KEY: 'short' }, 'auth.adminApiKey: at least 16 characters'],
    [{ DATABASE_SCHEMA: 'Bad-Name' }, 'database.schema: a lower-case SQL identifier'],
  ])('names the key of a wrong value: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('rejects a file that is not valid YAML/JSON and one with a wrong type', () => {
    expect(() => loadConfig({ CONFIG_FILE: tmp('bad.json', '{ nope') })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ CONFIG_FILE: tmp('t.yaml', 'router:\n  retries: lots\n') })).toThrow('router.retries');
    expect(() => loadConfig({ CONFIG_FILE: '/does/not/exist.yaml' })).toThrow(/cannot be read/);
  });

  it('refuses an unknown (misspelt) setting at any depth, naming it', () => {
    expect(() => loadConfig({ CONFIG_FILE: tmp('t.yaml', 'jobs:\n  enabled: false\n') })).toThrow(/jobs\.enabled: unknown setting/);
    expect(() => loadConfig({}, { routr: { retries: 1 } })).toThrow(/routr: unknown setting/);
    expect(() => loadConfig({}, { models: { m: { targets: [{ provider: 'p', model: 'x', wieght: 2 }] } } })).toThrow(/models\.m\.targets\.0\.wieght: unknown setting/);
    // Maps keyed by name (providers, models, prices, tenants) still take any name.
    expect(loadConfig({}, { providers: { 'my-vllm': { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } } }).providers['my-vllm']?.kind).toBe('openai');
  });

  it('reads the vector store per use and the context settings, naming a wrong key', () => {
    const c = loadConfig({ VECTOR_STORE: 'memory', QDRANT_URL: 'http://q:6333' }, { vector: { collections: { memories: { kind: 'qdrant' } } }, context: { shares: { recent: 0.5 } } });
    expect(c.vector).toMatchObject({ kind: 'memory', url: 'http://q:6333', collections: { memories: { kind: 'qdrant' } } });
    expect(c.context.shares).toEqual({ facts: 0.1, summary: 0.15, recent: 0.5, episodic: 0.3, documents: 0.1 });
    expect(c.memory.episodic).toMatchObject({ enabled: true, neighbours: 2, rrfK: 20 });
    expect(() => loadConfig({}, { vector: { collections: { memories: { kind: 'faiss' } } } })).toThrow('vector.collections.memories.kind');
    expect(() => loadConfig({}, { context: { shares: { episodic: 1.5 } } })).toThrow('context.shares.episodic');
  });
});
