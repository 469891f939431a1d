import { z } from 'zod';
import { piiConfigSchema } from '../governance/pii/config.js';
import { knowledgeConfigSchema } from '../knowledge/config.js';

/**
 * The gateway's whole configuration, parsed once at start-up (see load.ts) and frozen.
 * Every field has a default so `npm start` works with no config at all.
 */

const providerSchema = z.strictObject({
  kind: z.enum(['openai', 'anthropic']),
  /** OpenAI-compatible base URL including `/v1` (OpenAI, vLLM, Ollama, llama.cpp, LM Studio…). */
  baseUrl: z.url().optional(),
  apiKey: z.string().min(1).optional(),
  /** Name of an environment variable holding the key, so config files carry no secrets. */
  apiKeyEnv: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /**
   * OpenAI-compatible upstreams: ask for the token usage of every stream (`stream_options.include_usage`),
   * so a streamed answer is metered with the upstream's own counts (reasoning and cached tokens
   * included) rather than the gateway's count of the text it saw. The usage chunk reaches the client
   * only when it asked for it. Turn off for an upstream that refuses the field.
   */
  streamUsage: z.boolean().default(true),
});

const targetSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1),
  /**
   * Load-balancing weight. When no target of a model has one, targets are tried strictly in order
   * (primary, then fallbacks); otherwise the first attempt is drawn among weighted targets and
   * the rest follow in order.
   */
  weight: z.number().positive().optional(),
  timeoutMs: z.number().int().positive().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  /** Quality tier (1 best): with `routing.strategy: cheapest`, the cheapest target of the best tier goes first. */
  tier: z.number().int().min(1).max(10).optional(),
});

/** USD per million tokens: input, input read from the provider's prompt cache, output. */
const priceSchema = z.strictObject({ input: z.number().min(0), cachedInput: z.number().min(0).optional(), output: z.number().min(0) });

/** Settings the response cache takes per tenant (`cache.tenants`) and per model alias (`models.<alias>.cache`). */
const cacheOverrideSchema = z.strictObject({
  enabled: z.boolean().optional(),
  ttlSeconds: z.number().int().min(1).optional(),
  semantic: z.boolean().optional(),
  threshold: z.number().min(0).max(1).optional(),
});

const modelSchema = z.strictObject({
  targets: z.array(targetSchema).min(1),
  /** Tokens the model accepts (prompt + completion); looked up in the model registry when absent. */
  contextWindow: z.number().int().positive().optional(),
  encoding: z.enum(['o200k_base', 'cl100k_base']).optional(),
  /** Completion tokens reserved when the request sets no max_tokens. */
  reservedCompletionTokens: z.number().int().positive().optional(),
  /** USD per million tokens for this alias, over the price table (src/usage/prices.ts). */
  price: priceSchema.optional(),
  /**
   * Cost-aware routing. `strategy`: `ordered` (the targets' order and weights) or `cheapest` (by
   * price within each quality tier, best tier first). `budgetThreshold`: once the caller's key or
   * tenant has used this share of a USD quota, the cheapest target goes first whatever its tier.
   */
  routing: z.strictObject({ strategy: z.enum(['ordered', 'cheapest']).default('ordered'), budgetThreshold: z.number().gt(0).max(1).optional() }).optional(),
  /** Requests and tokens per minute through this alias, over all tenants (src/governance/ratelimit.ts). */
  limits: z.strictObject({ rpm: z.number().int().min(1).optional(), tpm: z.number().int().min(1).optional() }).optional(),
  /** This alias's response cache settings, over the tenant's and the defaults (`cache`). */
  cache: cacheOverrideSchema.optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      /** Largest request body accepted; chat apps that send whole documents raise it. */
      maxBodyBytes: z.coerce.number().int().positive().default(4 * 1024 * 1024),
    })
    .prefault({}),
  database: z
    .strictObject({
      /** Postgres URL; when absent the embedded PGlite database under dataDir is used. */
      url: z.string().optional(),
      dataDir: z.string().default('./data'),
      /** Schema for all tables; tests use a unique one per run. */
      schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('public'),
      poolSize: z.coerce.number().int().positive().default(10),
      /**
       * Embedded PGlite's page cache, inside the gateway's own memory (Postgres's default is 128 MB;
       * the operating system caches the data files as well). BENCHMARKS.md: idle RSS 738 → 640 MB at 32.
       */
      pgliteSharedBuffersMb: z.coerce.number().int().min(1).max(4096).default(32),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z.string().optional(),
      keyPrefix: z.string().default('cgw:'),
      /** A Redis call slower than this is treated as Redis being down (the SQL path answers). */
      commandTimeoutMs: z.coerce.number().int().positive().default(500),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      /**
       * Whether this process runs background jobs (summaries). On by default, so one gateway is
       * complete; with separate workers (`npm run worker`, docker compose) set it off on the gateways.
       */
      process: z
        .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
        .transform((v) => v === true || v === 'true' || v === '1')
        .default(true),
      /** Runs of a job before it is kept as failed, and the delay before the first retry (doubled each time). */
      attempts: z.number().int().min(1).max(100).default(5),
      backoffMs: z.number().int().min(1).default(2_000),
      /** A running job's lock (BullMQ): a worker killed mid-job has its job taken over after about this long. */
      lockMs: z.number().int().min(500).default(30_000),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Bootstrap admin key (from ADMIN_API_KEY); without it the admin API is closed. */
      adminApiKey: z.string().min(16, 'at least 16 characters').optional(),
      /** How long a verified key stays cached in-process before it is read again from SQL. */
      keyCacheTtlMs: z.coerce.number().int().min(0).default(5000),
    })
    .prefault({}),
  providers: z.record(z.string(), providerSchema).default({}),
  /** Prices by upstream model name, over the built-in list (src/usage/prices.ts). */
  prices: z.record(z.string(), priceSchema).default({}),
  models: z.record(z.string(), modelSchema).default({}),
  router: z
    .strictObject({
      /** Attempts per target after the first, on transient errors only (router/retry.ts). */
      retries: z.number().int().min(0).max(10).default(1),
      backoffMs: z.number().int().min(0).default(100),
      maxBackoffMs: z.number().int().min(0).default(2000),
      /** Time allowed until an upstream's response headers (or first stream event) arrive. */
      timeoutMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
  session: z
    .strictObject({
      /** Turns kept in the Redis hot copy of a session. */
      hotTurns: z.number().int().positive().default(200),
      /**
       * Sessions whose hot copy each process also keeps in memory, checked against SQL on every read
       * like the Redis copy (0 turns it off). Costs up to localSessions × hotTurns turns of memory.
       */
      localSessions: z.number().int().min(0).default(256),
      /**
       * false: a chat request's turns are committed without waiting for Postgres to flush its WAL to
       * disk (`synchronous_commit = off` for that statement). A crash of the database's host can then
       * lose the last ~0.6 s of turns (never corrupt them); a gateway crash loses nothing. For disks
       * whose flushes stall. Imports and every other write stay synchronous.
       */
      synchronousCommit: z.boolean().default(true),
      /** Tokens kept free below the window for message framing and tokenizer drift. */
      safetyMarginTokens: z.number().int().min(0).default(64),
      /** Completion tokens reserved when neither the request nor the model set one. */
      defaultReservedCompletionTokens: z.number().int().positive().default(1024),
    })
    .prefault({}),
  embeddings: z
    .strictObject({
      /** 'use-lite': bundled Universal Sentence Encoder Lite, zero downloads. 'transformers': any ONNX feature-extraction model. */
      kind: z.enum(['use-lite', 'transformers']).default('use-lite'),
      /** transformers: hub id or folder under modelDir (default Xenova/all-MiniLM-L6-v2). */
      model: z.string().min(1).optional(),
      /** transformers: local model root for air-gapped deployments; downloads are off when set. */
      modelDir: z.string().min(1).optional(),
      /** use-lite: worker threads (default: available cores); transformers: onnxruntime threads. */
      threads: z.coerce.number().int().positive().optional(),
      /** use-lite: where its ONNX translation is cached (default: the OS's temporary directory). */
      cacheDir: z.string().min(1).optional(),
      /** Recent query vectors kept in memory (0 = off). */
      queryCacheEntries: z.coerce.number().int().min(0).default(1000),
      /**
       * Load the model at start-up instead of on the first embedding (~0.5 s, ~80 MB per worker
       * thread), so the first retrieval does not wait for it. use-lite only.
       */
      preload: z.boolean().default(true),
    })
    .prefault({}),
  vector: z
    .strictObject({
      /**
       * Where vectors live. 'auto': pgvector in the SQL database when it has the extension (always on
       * the embedded PGlite), otherwise the in-memory store, which the indexer refills from SQL at start.
       */
      kind: z.enum(['auto', 'pgvector', 'qdrant', 'memory']).default('auto'),
      /** Qdrant's REST URL (QDRANT_URL), for kind 'qdrant'. */
      url: z.url().optional(),
      apiKey: z.string().min(1).optional(),
      /**
       * Per use, a store other than the default: `memories` (the episodic turns), `documents` (the
       * chunks of uploaded documents), `cache` (the semantic cache's questions).
       */
      collections: z
        .strictObject({
          memories: z.strictObject({ kind: z.enum(['auto', 'pgvector', 'qdrant', 'memory']), url: z.url().optional(), apiKey: z.string().min(1).optional() }).optional(),
          documents: z.strictObject({ kind: z.enum(['auto', 'pgvector', 'qdrant', 'memory']), url: z.url().optional(), apiKey: z.string().min(1).optional() }).optional(),
          cache: z.strictObject({ kind: z.enum(['auto', 'pgvector', 'qdrant', 'memory']), url: z.url().optional(), apiKey: z.string().min(1).optional() }).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  memory: z
    .strictObject({
      episodic: z
        .strictObject({
          /** Embed every turn and retrieve older turns by relevance. Off: history is recency only. */
          enabled: z.boolean().default(true),
          /** Turns embedded per indexer batch. */
          batchSize: z.number().int().min(1).max(512).default(32),
          /** How often the sweep looks for turns that are still not embedded (a lost wake-up, a crash). */
          sweepIntervalMs: z.number().int().positive().default(30_000),
          /** A batch claimed by a process that died is embedded by another after this many seconds. */
          claimSeconds: z.number().int().min(1).default(60),
          /** Candidates taken from each of full-text and vector search before fusion. */
          candidates: z.number().int().min(1).max(1000).default(60),
          /** Reciprocal rank fusion constant: higher flattens the difference between ranks. */
          rrfK: z.number().positive().default(20),
          /** Turns on each side of a retrieved turn scored with it (lexical window) and offered as context. */
          neighbours: z.number().int().min(0).max(5).default(2),
        })
        .prefault({}),
      /** Rolling session summaries, made off the request path by the `summarize` job. */
      summary: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** A session is summarised once the tokens of its turns after the newest summary reach this. */
          triggerTokens: z.number().int().min(100).default(3000),
          /** The newest turns left out of a new summary (replayed verbatim instead), in tokens. */
          keepRecentTokens: z.number().int().min(0).default(1000),
          /** Longest summary, in tokens of the o200k encoding. */
          maxTokens: z.number().int().min(32).max(8192).default(500),
          /** Model alias that writes summaries; without one, an extractive summary (central sentences, local embeddings). */
          model: z.string().min(1).optional(),
          /** How long one LLM summary may take before the job fails and is retried. */
          timeoutMs: z.number().int().positive().default(120_000),
          /** How often the sweep looks for sessions over the trigger that have no job (lost, flushed). */
          sweepIntervalMs: z.number().int().positive().default(60_000),
        })
        .refine((s) => s.keepRecentTokens < s.triggerTokens, { message: 'keepRecentTokens must be below triggerTokens', path: ['keepRecentTokens'] })
        .prefault({}),
      /**
       * Long-term fact memory. Facts are extracted from the turns of sessions with a user by the
       * `extract_facts` job, with `model` (structured output); without a model nothing is extracted,
       * and facts come only from the memory API. The facts section of a prompt draws on either.
       */
      facts: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Model alias that extracts and reconciles facts. */
          model: z.string().min(1).optional(),
          timeoutMs: z.number().int().positive().default(120_000),
          /** New turns wait this long for more before extraction runs (one job per burst). */
          debounceMs: z.number().int().min(0).default(2_000),
          /** How often the sweep looks for sessions with turns not yet read for facts. */
          sweepIntervalMs: z.number().int().positive().default(60_000),
          /** Facts offered to a prompt's facts section, best first. */
          topK: z.number().int().min(1).max(200).default(20),
          /**
           * Least similarity (cosine, the local embedder) between a fact and the latest message for the
           * fact to be offered: a fact about something else only takes room from retrieved turns
           * (BENCHMARKS.md: on LoCoMo at 1024 tokens, 0.4 → 0.770, 0.5 → 0.779, 0.6 → 0.785; 0.786 without facts).
           */
          minScore: z.number().min(-1).max(1).default(0.6),
        })
        .prefault({}),
    })
    .prefault({}),
  context: z
    .strictObject({
      /**
       * Share of the context budget each section may use, in priority order after the system prompt
       * and the new messages (always included). What a section leaves unused flows to the next; older
       * turns (recency beyond the recent section) take whatever is left at the end.
       */
      shares: z
        .strictObject({
          facts: z.number().min(0).max(1).default(0.1),
          summary: z.number().min(0).max(1).default(0.15),
          recent: z.number().min(0).max(1).default(0.35),
          episodic: z.number().min(0).max(1).default(0.3),
          documents: z.number().min(0).max(1).default(0.1),
        })
        .prefault({}),
      /** Recent turns always kept, whatever the shares (the last exchange). */
      minRecentTurns: z.number().int().min(0).default(2),
    })
    .prefault({}),
  knowledge: knowledgeConfigSchema,
  /**
   * The response cache (src/cache): an exact cache keyed by the request that reaches the upstream,
   * and a semantic cache over the last user message within the same scope. Overrides per tenant
   * here, per model alias in `models.<alias>.cache` (the alias wins).
   */
  cache: z
    .strictObject({
      /**
       * Off by default: a cache returns one stored answer to every asker of the same question, which
       * a deployment should choose (CACHE_ENABLED=true, or per tenant / model alias).
       */
      enabled: z
        .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
        .transform((v) => v === true || v === 'true' || v === '1')
        .default(false),
      /**
       * Cache session-id requests too. Their scope is the session at one point of its history, so
       * they hit only when that exact state comes back (a retried request); off, they skip the
       * lookup and the write (x-cache: skip).
       */
      sessions: z.boolean().default(false),
      ttlSeconds: z.number().int().min(1).default(3600),
      /** Requests sampled hotter than this are not cached (their answers are meant to vary). */
      maxTemperature: z.number().min(0).max(2).default(1),
      semantic: z.boolean().default(true),
      /**
       * Least cosine similarity between two last user messages for a semantic hit (the guard must
       * pass as well). From `npm run eval:cache` (BENCHMARKS.md), with the guard: 0.86 is the lowest
       * with no false hit on the 270 near-misses of the tuning set (recall 0.757); on the 133 held-out
       * near-misses 0.86 lets two through, 0.90 one (a swap no threshold removes). 0.90: recall 0.639
       * and 0.508 on the two sets.
       */
      threshold: z.number().min(0).max(1).default(0.9),
      /** Reject a semantic hit whose numbers, negation, names, units or language differ (src/cache/guard.ts). */
      guard: z.boolean().default(true),
      /** Longest last user message looked up semantically (longer ones use the exact cache only). */
      maxSemanticChars: z.number().int().min(1).default(2000),
      /** How often expired entries are deleted (SQL rows and their vectors; Redis expires its own). */
      sweepIntervalMs: z.number().int().positive().default(60_000),
      tenants: z.record(z.string(), cacheOverrideSchema).default({}),
    })
    .prefault({}),
  /**
   * PII redaction (src/governance/pii): per type `mask`, `placeholder` (restored in the answer) or
   * `block`; applied to what is sent upstream, what is stored in memory, and what is logged.
   */
  pii: piiConfigSchema.prefault({}),
  observability: z
    .strictObject({
      /**
       * Prompt and answer capture for the tenants listed (`*`: all), PII masked (every detector, whatever
       * `pii` says), kept `retentionDays`; read with GET /admin/v1/requests/:id. Off by default.
       */
      capture: z.strictObject({ tenants: z.array(z.string().min(1)).default([]), retentionDays: z.number().int().min(1).max(365).default(7) }).prefault({}),
    })
    .prefault({}),
  /** Where quota alerts go (a soft limit reached, a quota used up): a webhook, signed, with retries. */
  alerts: z
    .strictObject({
      webhookUrl: z.url().optional(),
      /** Key of the HMAC-SHA256 `x-gateway-signature: t=<unix s>,v1=<hex of "t.body">` header. */
      secret: z.string().min(16, 'at least 16 characters').optional(),
      attempts: z.number().int().min(1).max(20).default(5),
      backoffMs: z.number().int().min(1).default(1000),
      timeoutMs: z.number().int().positive().default(5000),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
