import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * Builds the Config from an optional file (JSON or YAML, `CONFIG_FILE`) overlaid with environment
 * variables, validates it once with zod and freezes it. A wrong value throws a ConfigError naming
 * the key and what is expected; main.ts prints it and exits.
 */
export function loadConfig(env: Env = process.env, overrides: Record<string, unknown> = {}): Config {
  const file = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const merged = deepMerge(deepMerge(file, fromEnv(env)), overrides);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, env.CONFIG_FILE));
  const config = parsed.data;
  resolveProviderKeys(config, env);
  checkReferences(config);
  return deepFreeze(config);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`CONFIG_FILE ${path} cannot be read: ${(err as Error).message}`);
  }
  try {
    const value: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a mapping at the top level');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`CONFIG_FILE ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
}

/** Environment variables and the config keys they set. */
function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (path: string, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    const keys = path.split('.');
    let node = out;
    for (const k of keys.slice(0, -1)) {
      node[k] ??= {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1] as string] = value;
  };
  set('server.host', env.HOST);
  set('server.port', env.PORT);
  set('server.maxBodyBytes', env.MAX_BODY_BYTES);
  set('database.url', env.DATABASE_URL);
  set('database.dataDir', env.DATA_DIR);
  set('database.schema', env.DATABASE_SCHEMA);
  set('redis.url', env.REDIS_URL);
  set('redis.keyPrefix', env.REDIS_KEY_PREFIX);
  set('jobs.process', env.JOBS_PROCESS);
  set('cache.enabled', env.CACHE_ENABLED);
  set('alerts.webhookUrl', env.ALERTS_WEBHOOK_URL);
  set('alerts.secret', env.ALERTS_WEBHOOK_SECRET);
  set('auth.adminApiKey', env.ADMIN_API_KEY);
  set('log.level', env.LOG_LEVEL);
  set('embeddings.kind', env.EMBEDDINGS_KIND);
  set('embeddings.model', env.EMBEDDINGS_MODEL);
  set('embeddings.modelDir', env.EMBEDDINGS_MODEL_DIR);
  set('embeddings.threads', env.EMBEDDINGS_THREADS);
  set('embeddings.cacheDir', env.EMBEDDINGS_CACHE_DIR);
  set('knowledge.search.rerank.model', env.RERANK_MODEL);
  set('knowledge.search.rerank.modelDir', env.RERANK_MODEL_DIR);
  set('vector.kind', env.VECTOR_STORE);
  set('vector.url', env.QDRANT_URL);
  set('vector.apiKey', env.QDRANT_API_KEY);
  // Convenience: a provider per well-known key, so `OPENAI_API_KEY=… npm start` just works.
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    set('providers.openai.kind', 'openai');
    set('providers.openai.baseUrl', env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1');
    set('providers.openai.apiKey', env.OPENAI_API_KEY);
  }
  if (env.ANTHROPIC_API_KEY) {
    set('providers.anthropic.kind', 'anthropic');
    set('providers.anthropic.baseUrl', env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com');
    set('providers.anthropic.apiKey', env.ANTHROPIC_API_KEY);
  }
  return out;
}

function resolveProviderKeys(config: Config, env: Env): void {
  for (const [name, p] of Object.entries(config.providers)) {
    if (!p.apiKey && p.apiKeyEnv) {
      const value = env[p.apiKeyEnv];
      if (!value) throw new ConfigError(`providers.${name}.apiKeyEnv: environment variable ${p.apiKeyEnv} is not set`);
      p.apiKey = value;
    }
    if (p.kind === 'openai' && !p.baseUrl) {
      throw new ConfigError(`providers.${name}.baseUrl: expected the upstream's base URL, e.g. http://127.0.0.1:11434/v1`);
    }
  }
}

function checkReferences(config: Config): void {
  for (const [alias, m] of Object.entries(config.models)) {
    m.targets.forEach((t, i) => {
      if (!config.providers[t.provider]) {
        const known = Object.keys(config.providers).join(', ') || 'none configured';
        throw new ConfigError(`models.${alias}.targets.${i}.provider: unknown provider "${t.provider}" (known: ${known})`);
      }
    });
  }
}

function formatIssues(error: z.ZodError, file: string | undefined): string {
  // An unknown key is most often a misspelt one: name it in full, so the line says what to fix.
  const lines = error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => `  ${[...i.path, k].join('.')}: unknown setting (misspelt, or not a setting of ${i.path.join('.') || 'the configuration'})`)
      : [`  ${i.path.join('.') || '(root)'}: ${i.message}`],
  );
  return `Invalid configuration${file ? ` (CONFIG_FILE ${file} and environment)` : ' (environment)'}:\n${lines.join('\n')}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `b` over `a`, object by object (arrays and other values of `b` replace `a`'s). */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value) || Array.isArray(value)) {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** For entry points (gateway, worker): the config, or the ConfigError's message and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
}
