import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { CacheEntryInfo } from '../cache/store.js';
import type { FailedJob, JobState } from '../jobs/port.js';
import type { Collection } from '../knowledge/collections.js';
import type { DocumentInfo, DocumentStatus } from '../knowledge/documents.js';
import type { DocumentFormat } from '../knowledge/parse/types.js';
import type { ChunkHit } from '../knowledge/search.js';
import type { FileError } from '../knowledge/uploads.js';
import { MEMORY_CATEGORIES, type Memory, type MemoryEvent, type MemoryEventKind } from '../memory/facts/store.js';
import type { PromptSummary, PromptVersion } from '../prompts/store.js';
import { type PromptVariable, VARIABLE_TYPES } from '../prompts/template.js';
import { ADMIN_ROLES, type AdminKeyRecord, type ApiKeyRecord, type Team, type Tenant } from '../tenancy/repo.js';
import * as admin from './routes/admin.js';
import * as cache from './routes/cache.js';
import * as collections from './routes/collections.js';
import * as memories from './routes/memories.js';
import * as prompts from './routes/prompts.js';
import * as requests from './routes/requests.js';
import * as usage from './routes/usage.js';

/**
 * The OpenAPI 3.1 document of the admin API (everything under /admin/v1) and of the tenant management
 * APIs (usage, memories, prompts, collections and documents), served at `GET /openapi.json`.
 *
 * Request bodies and query parameters are generated from the zod schemas the routes validate with
 * (exported by the route files), as JSON Schema 2020-12 — OpenAPI 3.1's dialect — of what a client
 * *sends* (`io: 'input'`: defaults make a field optional, coercions and transforms show their input).
 * Responses are described by hand below, their fields checked against the TypeScript types they show.
 * Not documented here: chat completions, sessions, context, embeddings and models (OpenAI's shapes,
 * documented in the README).
 */

export type JsonSchema = Record<string, unknown>;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A zod schema as the JSON Schema of the input it accepts. Unrepresentable types throw (a test catches them). */
export function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return rest;
}

// --- JSON Schema shorthands for the hand-written response objects -------------------------------------

const string: JsonSchema = { type: 'string' };
const integer: JsonSchema = { type: 'integer' };
const number: JsonSchema = { type: 'number' };
const boolean: JsonSchema = { type: 'boolean' };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const anyObject: JsonSchema = { type: 'object', additionalProperties: {} };
const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
const constant = (value: unknown): JsonSchema => ({ const: value });
const oneOfValues = (values: readonly unknown[]): JsonSchema => ({ enum: [...values] });
const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const describe = (s: JsonSchema, description: string): JsonSchema => ({ ...s, description });

/** An object schema; every property is required but those named `optional`. */
function obj(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)) };
}

/**
 * The properties of an object the API shows, one per field of its TypeScript type `T`: a field added
 * to or removed from the type fails to compile here until the document follows.
 */
function fieldsOf<T>(properties: { [K in keyof Required<T>]: JsonSchema }): Record<string, JsonSchema> {
  return properties as Record<string, JsonSchema>;
}

const list = (item: JsonSchema, extra: Record<string, JsonSchema> = {}): JsonSchema => obj({ object: constant('list'), ...extra, data: arrayOf(item) });
const deleted = (object: string, key = 'id'): JsonSchema => obj({ [key]: string, object: constant(object), deleted: constant(true) });
const allOf = (...parts: JsonSchema[]): JsonSchema => ({ allOf: parts });

const JOB_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const satisfies readonly JobState[];
const DOCUMENT_STATUSES = ['queued', 'parsing', 'embedding', 'ready', 'failed'] as const satisfies readonly DocumentStatus[];
const DOCUMENT_FORMATS = ['text', 'markdown', 'html', 'pdf', 'docx', 'json', 'csv'] as const satisfies readonly DocumentFormat[];
const MEMORY_EVENTS = ['add', 'update', 'invalidate', 'delete', 'restate'] as const satisfies readonly MemoryEventKind[];

const schemas: Record<string, JsonSchema> = {
  Error: obj({ error: ref('ErrorBody') }),
  ErrorBody: obj({
    message: describe(string, 'What went wrong and what to fix.'),
    type: oneOfValues(['invalid_request_error', 'authentication_error', 'upstream_error', 'server_error']),
    param: describe(nullable(string), 'The offending field, when there is one (`limits.tpm`, `tenant_id`).'),
    code: describe(string, 'A stable code: invalid_request, invalid_json, tenant_not_found, …'),
  }),
  Limits: describe(
    (({ $schema: _dialect, ...s }) => s)(z.toJSONSchema(admin.limitsSchema, { target: 'draft-2020-12', io: 'output' }) as JsonSchema),
    'Rate limits per minute and quotas per UTC day and month; an absent field is no limit.',
  ),

  Tenant: obj({
    object: constant('tenant'),
    ...fieldsOf<Tenant>({ id: string, name: string, metadata: anyObject, limits: ref('Limits'), created_at: dateTime }),
  }),
  ApiKey: obj({
    object: constant('api_key'),
    ...fieldsOf<ApiKeyRecord>({
      id: string,
      tenant_id: string,
      team_id: nullable(string),
      name: string,
      prefix: describe(string, "The secret's first 12 characters, to recognise it."),
      scopes: arrayOf(string),
      limits: ref('Limits'),
      created_at: dateTime,
      expires_at: nullable(dateTime),
      revoked_at: nullable(dateTime),
    }),
  }),
  ApiKeyCreated: allOf(ref('ApiKey'), obj({ key: describe(string, 'The secret: shown in this response only, stored as a SHA-256 hash.') })),
  ApiKeyRotated: allOf(
    ref('ApiKeyCreated'),
    obj({ rotated_from: describe(obj({ id: string, expires_at: nullable(dateTime) }), 'The old key, valid until its new expires_at.') }),
  ),
  ApiKeyRevoked: allOf(ref('ApiKey'), obj({ revoked: constant(true) })),
  Team: obj({
    object: constant('team'),
    ...fieldsOf<Team>({ tenant_id: string, id: string, name: string, limits: ref('Limits'), created_at: dateTime }),
  }),
  AdminKey: obj({
    object: constant('admin_key'),
    ...fieldsOf<AdminKeyRecord>({
      id: string,
      name: string,
      role: { type: 'string', enum: [...ADMIN_ROLES] },
      prefix: describe(string, "The secret's first 12 characters, to recognise it."),
      created_at: dateTime,
      revoked_at: nullable(dateTime),
    }),
  }),
  AdminKeyCreated: allOf(ref('AdminKey'), obj({ key: describe(string, 'The secret: shown in this response only, stored as a SHA-256 hash.') })),
  AdminKeyRevoked: allOf(ref('AdminKey'), obj({ revoked: constant(true) })),

  Jobs: obj({
    object: constant('jobs'),
    queue: oneOfValues(['bullmq', 'local']),
    counts: describe(
      { type: 'object', additionalProperties: obj(Object.fromEntries(JOB_STATES.map((s) => [s, integer]))) },
      'Jobs per kind and state (completed: since this process started).',
    ),
    failed: arrayOf(
      obj(fieldsOf<FailedJob>({ kind: string, key: string, data: {}, error: string, attempts: integer, failed_at: dateTime })),
    ),
  }),

  CacheEntry: obj({
    object: constant('cache.entry'),
    ...fieldsOf<CacheEntryInfo>({
      tenant_id: string,
      id: string,
      alias: describe(string, 'The model alias the answer was cached for.'),
      query: string,
      hits: integer,
      prompt_tokens: integer,
      completion_tokens: integer,
      created_at: dateTime,
      expires_at: dateTime,
      last_hit_at: nullable(dateTime),
    }),
  }),

  Usage: obj({
    object: constant('usage'),
    from: dateTime,
    to: describe(dateTime, 'Exclusive.'),
    group_by: arrayOf(oneOfValues(Object.keys(usage.GROUPS))),
    data: arrayOf({
      type: 'object',
      description: 'One row per group: the group_by columns, then the metrics.',
      properties: {
        ...Object.fromEntries(Object.keys(usage.GROUPS).map((g) => [g, nullable({ type: ['string', 'number'] })])),
        ...Object.fromEntries(usage.METRICS.map((m) => [m, nullable(number)])),
      },
      required: [...usage.METRICS],
    }),
  }),

  Memory: obj({
    object: constant('memory'),
    ...fieldsOf<Memory>({
      id: string,
      user_id: string,
      session_id: nullable(string),
      text: string,
      category: oneOfValues(MEMORY_CATEGORIES),
      event_at: describe(nullable(string), 'ISO date or date-time.'),
      source: oneOfValues(['extracted', 'api']),
      source_turns: arrayOf(obj({ session_id: string, seq: integer })),
      metadata: anyObject,
      valid_from: dateTime,
      valid_to: nullable(dateTime),
      superseded_by: nullable(string),
      created_at: dateTime,
      updated_at: dateTime,
    }),
    current: describe(boolean, 'Not invalidated nor superseded (valid_to is null).'),
  }),
  MemoryEvent: obj({
    object: constant('memory.event'),
    ...fieldsOf<MemoryEvent>({
      id: string,
      memory_id: string,
      event: oneOfValues(MEMORY_EVENTS),
      text: nullable(string),
      previous_text: nullable(string),
      related_id: nullable(string),
      source_turns: arrayOf(obj({ session_id: string, seq: integer })),
      actor: oneOfValues(['extractor', 'api']),
      at: dateTime,
    }),
  }),

  PromptVariable: obj(
    fieldsOf<PromptVariable>({ name: string, type: oneOfValues(VARIABLE_TYPES), required: boolean, description: string, default: {} }),
    ['description', 'default'],
  ),
  PromptVersion: obj(
    {
      object: constant('prompt.version'),
      ...fieldsOf<PromptVersion>({
        name: string,
        version: integer,
        description: string,
        template: obj({ system: nullable(string), user: string }),
        variables: arrayOf(ref('PromptVariable')),
        model: describe(string, 'The model alias every run of this version uses.'),
        params: describe(anyObject, 'Chat-completion fields sent with every run.'),
        created_by: describe(nullable(string), 'The id of the key that published it.'),
        created_at: dateTime,
      }),
      live: describe(boolean, 'Runs when a caller pins no version.'),
    },
    ['object'],
  ),
  PromptSummary: obj({
    object: constant('prompt'),
    ...fieldsOf<PromptSummary>({ name: string, live_version: integer, latest_version: integer, created_at: dateTime, updated_at: dateTime }),
  }),
  Prompt: allOf(ref('PromptSummary'), obj({ live: ref('PromptVersion'), versions: describe(arrayOf(ref('PromptVersion')), 'Every version (without `object`).') })),
  ChatCompletion: {
    type: 'object',
    description: "An OpenAI chat completion, with the gateway's additions.",
    properties: { id: string, object: constant('chat.completion'), created: integer, model: string, choices: arrayOf(anyObject), usage: anyObject },
    required: ['id', 'object', 'choices'],
  },

  Collection: obj({
    object: constant('collection'),
    ...fieldsOf<Collection>({
      id: string,
      name: string,
      description: string,
      embedding_model: string,
      chunking: obj({ target_tokens: integer, overlap_tokens: integer, passage_tokens: integer }, ['passage_tokens']),
      metadata: anyObject,
      created_at: dateTime,
      updated_at: dateTime,
    }),
  }),
  Document: obj({
    object: constant('document'),
    ...fieldsOf<DocumentInfo>({
      id: string,
      collection_id: string,
      title: string,
      external_id: nullable(string),
      format: oneOfValues(DOCUMENT_FORMATS),
      status: describe(oneOfValues(DOCUMENT_STATUSES), 'Ingestion runs in the background: poll until ready or failed.'),
      error: nullable(string),
      chars: integer,
      chunk_count: integer,
      metadata: anyObject,
      filename: describe(nullable(string), "The uploaded file's name (null for JSON text)."),
      bytes: nullable(integer),
      page_count: nullable(integer),
      replaces: describe(nullable(string), 'The version of this document it replaces once ready.'),
      created_at: dateTime,
      updated_at: dateTime,
    }),
  }),
  DocumentAccepted: allOf(ref('Document'), obj({ created: describe(boolean, 'False when the same document was already there.'), file: string }, ['file'])),
  FileError: obj(fieldsOf<FileError>({ file: string, status: oneOfValues([413, 415, 422]), error: ref('ErrorBody') })),
  SearchResult: obj(
    {
      object: constant('search.result'),
      ...fieldsOf<ChunkHit>({
        chunk_id: string,
        collection_id: string,
        document_id: string,
        title: string,
        seq: integer,
        heading_path: arrayOf(string),
        page: nullable(integer),
        page_end: nullable(integer),
        char_start: integer,
        char_end: integer,
        text: string,
        tokens: integer,
        score: number,
        via: oneOfValues(['lexical', 'vector', 'both']),
        highlights: describe(arrayOf(string), 'Passages that match the query, matches in **bold** (when asked for).'),
      }),
    },
    ['highlights'],
  ),
};

// --- Errors ---------------------------------------------------------------------------------------------

const ERRORS: Record<string, string> = {
  '400': 'Invalid request: `param` names the field (invalid_request, invalid_json, …).',
  '401': 'No API key, or one that is unknown, revoked or expired (missing_api_key, invalid_api_key).',
  '403': "The wrong kind of key (admin_required, admin_key_not_allowed), or one whose scopes do not allow the call (scope_not_allowed).",
  '404': 'Not found (tenant_not_found, key_not_found, memory_not_found, …).',
  '409': 'Conflict with the current state (tenant_exists, memory_not_current).',
  '413': 'The request body is larger than server.maxBodyBytes (request_too_large).',
  '415': 'The body is not JSON (unsupported_media_type).',
  '422': 'None of the uploaded files could be ingested; `errors` says why for each.',
  '429': 'A rate limit or quota is exhausted; `retry-after` says when to retry.',
  '5XX': 'The gateway (internal_error) or, for prompt runs, the upstream provider failed.',
};
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

// --- Operations -----------------------------------------------------------------------------------------

interface Operation {
  method: Method;
  /** Express syntax: `/admin/v1/keys/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  auth: 'admin' | 'key' | 'none';
  /** The zod schema the route validates its query with; `extraQuery` for parameters read by hand. */
  query?: z.ZodType;
  extraQuery?: Array<{ name: string; description: string; schema: JsonSchema }>;
  /** Path parameters validated by a schema (the others are strings). */
  pathParams?: Record<string, z.ZodType>;
  /** The zod schema of the JSON body (or the JSON Schema, when the route accepts alternatives). */
  body?: z.ZodType | { json: JsonSchema; multipart?: JsonSchema };
  bodyOptional?: boolean;
  ok: { status: number; description: string; schema: JsonSchema; csv?: boolean; sse?: boolean; headers?: Record<string, string> };
  /** Error statuses beyond those every operation of its kind may answer. */
  errors?: string[];
}

const SCOPE_NOTE = 'A key limited by `route:` scopes needs the scope of this API.';

const OPERATIONS: Operation[] = [
  // Tenants
  {
    method: 'post',
    path: '/admin/v1/tenants',
    tag: 'Tenants',
    summary: 'Create a tenant',
    auth: 'admin',
    body: admin.tenantSchema,
    ok: { status: 201, description: 'The tenant.', schema: ref('Tenant') },
    errors: ['409'],
  },
  { method: 'get', path: '/admin/v1/tenants', tag: 'Tenants', summary: 'List tenants', auth: 'admin', ok: { status: 200, description: 'Every tenant.', schema: list(ref('Tenant')) } },
  { method: 'get', path: '/admin/v1/tenants/:id', tag: 'Tenants', summary: 'Get a tenant', auth: 'admin', ok: { status: 200, description: 'The tenant.', schema: ref('Tenant') } },
  {
    method: 'patch',
    path: '/admin/v1/tenants/:id',
    tag: 'Tenants',
    summary: "Replace a tenant's limits",
    description: 'Takes effect on this gateway at once, on the others within the key cache TTL.',
    auth: 'admin',
    body: admin.limitsPatchSchema,
    ok: { status: 200, description: 'The tenant.', schema: ref('Tenant') },
  },
  {
    method: 'delete',
    path: '/admin/v1/tenants/:id',
    tag: 'Tenants',
    summary: 'Delete a tenant and all its data',
    auth: 'admin',
    ok: { status: 200, description: 'Deleted.', schema: deleted('tenant.deleted') },
  },
  // Keys
  {
    method: 'post',
    path: '/admin/v1/keys',
    tag: 'API keys',
    summary: 'Create an API key',
    auth: 'admin',
    body: admin.keySchema,
    ok: { status: 201, description: 'The key, with its secret (shown once).', schema: ref('ApiKeyCreated') },
  },
  {
    method: 'get',
    path: '/admin/v1/keys',
    tag: 'API keys',
    summary: 'List API keys',
    auth: 'admin',
    extraQuery: [{ name: 'tenant_id', description: "Only this tenant's keys.", schema: string }],
    ok: { status: 200, description: 'The keys, without secrets.', schema: list(ref('ApiKey')) },
  },
  {
    method: 'patch',
    path: '/admin/v1/keys/:id',
    tag: 'API keys',
    summary: "Replace a key's limits",
    description: 'Takes effect on this gateway at once, on the others within the key cache TTL.',
    auth: 'admin',
    body: admin.limitsPatchSchema,
    ok: { status: 200, description: 'The key.', schema: ref('ApiKey') },
  },
  {
    method: 'post',
    path: '/admin/v1/keys/:id/rotate',
    tag: 'API keys',
    summary: 'Rotate a key',
    description: 'A new key (same tenant, name, scopes, limits and expiry) now; the old one stays valid for the grace period.',
    auth: 'admin',
    body: admin.rotateSchema,
    bodyOptional: true,
    ok: { status: 201, description: 'The new key, with its secret (shown once).', schema: ref('ApiKeyRotated') },
  },
  {
    method: 'delete',
    path: '/admin/v1/keys/:id',
    tag: 'API keys',
    summary: 'Revoke a key',
    description: 'Keys are revoked, never deleted, so usage history keeps a name to point at.',
    auth: 'admin',
    ok: { status: 200, description: 'The revoked key.', schema: ref('ApiKeyRevoked') },
  },
  // Teams
  {
    method: 'post',
    path: '/admin/v1/tenants/:id/teams',
    tag: 'Teams',
    summary: 'Create a team (or project) in a tenant',
    description: "Keys created with its `team_id` belong to it; the team's limits and quotas are shared by them.",
    auth: 'admin',
    body: admin.teamSchema,
    ok: { status: 201, description: 'The team.', schema: ref('Team') },
  },
  {
    method: 'get',
    path: '/admin/v1/tenants/:id/teams',
    tag: 'Teams',
    summary: "A tenant's teams",
    auth: 'admin',
    ok: { status: 200, description: 'The teams.', schema: list(ref('Team')) },
  },
  {
    method: 'patch',
    path: '/admin/v1/tenants/:id/teams/:team',
    tag: 'Teams',
    summary: "Replace a team's limits",
    auth: 'admin',
    body: admin.limitsPatchSchema,
    ok: { status: 200, description: 'The team.', schema: ref('Team') },
  },
  {
    method: 'delete',
    path: '/admin/v1/tenants/:id/teams/:team',
    tag: 'Teams',
    summary: 'Delete a team (its keys stay, without a team)',
    auth: 'admin',
    ok: { status: 200, description: 'Deleted.', schema: deleted('team.deleted') },
  },
  // Admin keys
  {
    method: 'post',
    path: '/admin/v1/admin-keys',
    tag: 'Admin keys',
    summary: 'Create an admin API key with a role (owner only)',
    description: 'owner: everything, admin keys included; admin: every other change; member: reads and tenants\' API keys; viewer: reads.',
    auth: 'admin',
    body: admin.adminKeySchema,
    ok: { status: 201, description: 'The key, with its secret (shown once).', schema: ref('AdminKeyCreated') },
  },
  {
    method: 'get',
    path: '/admin/v1/admin-keys',
    tag: 'Admin keys',
    summary: 'List admin API keys (owner only)',
    auth: 'admin',
    ok: { status: 200, description: 'The keys, without secrets.', schema: list(ref('AdminKey')) },
  },
  {
    method: 'delete',
    path: '/admin/v1/admin-keys/:id',
    tag: 'Admin keys',
    summary: 'Revoke an admin API key (owner only)',
    auth: 'admin',
    ok: { status: 200, description: 'The revoked key.', schema: ref('AdminKeyRevoked') },
  },
  // Jobs
  {
    method: 'get',
    path: '/admin/v1/jobs',
    tag: 'Jobs',
    summary: 'Background jobs: counts and recent failures',
    auth: 'admin',
    query: admin.jobsQuerySchema,
    ok: { status: 200, description: 'Counts per kind and state, and the most recent failures.', schema: ref('Jobs') },
  },
  // Cache
  {
    method: 'get',
    path: '/admin/v1/cache/entries',
    tag: 'Response cache',
    summary: 'The most used cache entries',
    auth: 'admin',
    query: cache.entriesQuerySchema,
    ok: { status: 200, description: 'Entries, most hits first.', schema: list(ref('CacheEntry')) },
  },
  {
    method: 'delete',
    path: '/admin/v1/cache/entries',
    tag: 'Response cache',
    summary: 'Purge cache entries',
    description: 'By tenant and/or model alias; without either, every entry only with all=true.',
    auth: 'admin',
    query: cache.purgeQuerySchema,
    ok: {
      status: 200,
      description: 'How many entries went.',
      schema: obj({ object: constant('cache.purged'), tenant_id: nullable(string), model: nullable(string), deleted: integer }),
    },
  },
  {
    method: 'delete',
    path: '/admin/v1/cache/entries/:id',
    tag: 'Response cache',
    summary: 'Delete a cache entry',
    auth: 'admin',
    query: cache.entryQuerySchema,
    ok: { status: 200, description: 'Deleted.', schema: deleted('cache.entry.deleted') },
  },
  // Usage
  {
    method: 'get',
    path: '/admin/v1/usage',
    tag: 'Usage',
    summary: 'Usage and cost of any tenant, or all',
    auth: 'admin',
    extraQuery: [{ name: 'tenant_id', description: 'One tenant (all tenants without it).', schema: { type: 'string', minLength: 1 } }],
    query: usage.querySchema,
    ok: { status: 200, description: 'Aggregates per group.', schema: ref('Usage'), csv: true },
  },
  {
    method: 'get',
    path: '/admin/v1/requests/:id',
    tag: 'Usage',
    summary: 'One request by its x-request-id: its usage row, and its masked prompt and answer when its tenant captures',
    auth: 'admin',
    query: requests.requestQuerySchema,
    ok: {
      status: 200,
      description: 'The usage row (as in usage_events) with `capture` ({messages, answer}, PII masked) or null.',
      schema: { type: 'object', required: ['object', 'request_id', 'tenant_id', 'status', 'capture'], properties: { object: { const: 'request' }, request_id: { type: 'string' }, tenant_id: { type: 'string' }, status: { type: 'integer' }, capture: { type: ['object', 'null'] } } },
    },
  },
  {
    method: 'get',
    path: '/v1/usage',
    tag: 'Usage',
    summary: "Usage and cost of the key's tenant",
    description: SCOPE_NOTE,
    auth: 'key',
    query: usage.querySchema,
    ok: { status: 200, description: 'Aggregates per group.', schema: ref('Usage'), csv: true },
  },
  // Memories
  {
    method: 'get',
    path: '/v1/memories',
    tag: 'Memories',
    summary: "A user's fact memories",
    auth: 'key',
    query: memories.listSchema,
    ok: { status: 200, description: 'Newest first; page with `after`.', schema: list(ref('Memory'), { user: string, has_more: boolean }) },
  },
  {
    method: 'post',
    path: '/v1/memories',
    tag: 'Memories',
    summary: 'Add a memory',
    auth: 'key',
    body: memories.createSchema,
    ok: { status: 201, description: 'The memory.', schema: ref('Memory') },
  },
  {
    method: 'post',
    path: '/v1/memories/search',
    tag: 'Memories',
    summary: "Search a user's memories by meaning",
    auth: 'key',
    body: memories.searchSchema,
    ok: { status: 200, description: 'The closest memories.', schema: list(allOf(ref('Memory'), obj({ score: number })), { user: string }) },
  },
  { method: 'get', path: '/v1/memories/:id', tag: 'Memories', summary: 'Get a memory', auth: 'key', ok: { status: 200, description: 'The memory.', schema: ref('Memory') } },
  {
    method: 'patch',
    path: '/v1/memories/:id',
    tag: 'Memories',
    summary: 'Correct a memory',
    auth: 'key',
    body: memories.patchSchema,
    ok: { status: 200, description: 'The memory.', schema: ref('Memory') },
    errors: ['409'],
  },
  {
    method: 'get',
    path: '/v1/memories/:id/history',
    tag: 'Memories',
    summary: "A memory's history",
    auth: 'key',
    ok: { status: 200, description: 'Its events, oldest first.', schema: list(ref('MemoryEvent'), { memory_id: string }) },
  },
  { method: 'delete', path: '/v1/memories/:id', tag: 'Memories', summary: 'Delete a memory', auth: 'key', ok: { status: 200, description: 'Deleted.', schema: deleted('memory.deleted') } },
  {
    method: 'delete',
    path: '/v1/memories',
    tag: 'Memories',
    summary: 'Forget a user',
    description: "Every memory of the user and its history, from SQL and the vector store, and cached answers built from them.",
    auth: 'key',
    query: memories.forgetQuerySchema,
    ok: { status: 200, description: 'How many memories went.', schema: obj({ object: constant('memory.deleted'), user: string, deleted: integer }) },
  },
  // Prompts
  {
    method: 'post',
    path: '/v1/prompts',
    tag: 'Prompts',
    summary: 'Publish a prompt version',
    auth: 'key',
    body: prompts.createSchema,
    ok: { status: 201, description: 'The new version.', schema: ref('PromptVersion') },
  },
  { method: 'get', path: '/v1/prompts', tag: 'Prompts', summary: 'List prompts', auth: 'key', ok: { status: 200, description: 'Every prompt.', schema: list(ref('PromptSummary')) } },
  { method: 'get', path: '/v1/prompts/:name', tag: 'Prompts', summary: 'Get a prompt and its versions', auth: 'key', ok: { status: 200, description: 'The prompt.', schema: ref('Prompt') } },
  {
    method: 'get',
    path: '/v1/prompts/:name/versions/:version',
    tag: 'Prompts',
    summary: 'Get a prompt version',
    auth: 'key',
    pathParams: { version: prompts.versionParam },
    ok: { status: 200, description: 'The version.', schema: ref('PromptVersion') },
  },
  {
    method: 'put',
    path: '/v1/prompts/:name/live',
    tag: 'Prompts',
    summary: 'Choose the live version (roll back or forward)',
    auth: 'key',
    body: prompts.liveSchema,
    ok: { status: 200, description: 'The prompt.', schema: ref('Prompt') },
  },
  {
    method: 'delete',
    path: '/v1/prompts/:name',
    tag: 'Prompts',
    summary: 'Delete a prompt and its versions',
    auth: 'key',
    ok: { status: 200, description: 'Deleted.', schema: deleted('prompt.deleted', 'name') },
  },
  {
    method: 'post',
    path: '/v1/prompts/:name',
    tag: 'Prompts',
    summary: 'Run a prompt',
    description: 'A chat completion with the rendered template, answered like `POST /v1/chat/completions` (cache, sessions, usage, limits).',
    auth: 'key',
    body: prompts.runSchema,
    ok: {
      status: 200,
      description: 'The chat completion, or its event stream with `stream: true`.',
      schema: ref('ChatCompletion'),
      sse: true,
      headers: { 'x-prompt-name': 'The prompt that answered.', 'x-prompt-version': 'Its version.' },
    },
    errors: ['429'],
  },
  // Collections and documents
  {
    method: 'post',
    path: '/v1/collections',
    tag: 'Knowledge',
    summary: 'Create a collection',
    description: 'Not with a key limited to named collections (`collection:<id>` scopes).',
    auth: 'key',
    body: collections.createSchema,
    ok: { status: 201, description: 'The collection.', schema: ref('Collection') },
  },
  {
    method: 'get',
    path: '/v1/collections',
    tag: 'Knowledge',
    summary: 'List collections',
    auth: 'key',
    ok: { status: 200, description: 'The collections the key sees.', schema: list(ref('Collection')) },
  },
  { method: 'get', path: '/v1/collections/:id', tag: 'Knowledge', summary: 'Get a collection', auth: 'key', ok: { status: 200, description: 'The collection.', schema: ref('Collection') } },
  {
    method: 'delete',
    path: '/v1/collections/:id',
    tag: 'Knowledge',
    summary: 'Delete a collection and its documents',
    auth: 'key',
    ok: { status: 200, description: 'Deleted.', schema: deleted('collection.deleted') },
  },
  {
    method: 'post',
    path: '/v1/collections/:id/documents',
    tag: 'Knowledge',
    summary: 'Add documents',
    description:
      'As JSON text (one document, or `{"documents": [...]}`) or as files (multipart/form-data parts named `file`). Ingestion runs in the background: poll `GET /v1/documents/{id}`. An upload none of whose files can be ingested answers 413, 415 or 422 with the error envelope and `errors` per file.',
    auth: 'key',
    body: {
      json: { oneOf: [inputSchema(collections.documentSchema), inputSchema(collections.batchSchema)] },
      multipart: (() => {
        const fields = inputSchema(collections.uploadFieldsSchema);
        const properties = { ...(fields.properties as Record<string, JsonSchema>), file: arrayOf({ type: 'string', contentMediaType: 'application/octet-stream' }) };
        return { ...fields, properties, required: ['file'] };
      })(),
    },
    ok: { status: 202, description: 'Accepted; `errors` lists refused files.', schema: obj({ object: constant('list'), data: arrayOf(ref('DocumentAccepted')), errors: arrayOf(ref('FileError')) }) },
    errors: ['422'],
  },
  {
    method: 'get',
    path: '/v1/collections/:id/documents',
    tag: 'Knowledge',
    summary: "A collection's documents",
    auth: 'key',
    ok: { status: 200, description: 'The documents.', schema: list(ref('Document')) },
  },
  { method: 'get', path: '/v1/documents/:id', tag: 'Knowledge', summary: 'Get a document', auth: 'key', ok: { status: 200, description: 'The document and its ingestion status.', schema: ref('Document') } },
  { method: 'delete', path: '/v1/documents/:id', tag: 'Knowledge', summary: 'Delete a document', auth: 'key', ok: { status: 200, description: 'Deleted.', schema: deleted('document.deleted') } },
  {
    method: 'post',
    path: '/v1/collections/:id/search',
    tag: 'Knowledge',
    summary: 'Search a collection',
    auth: 'key',
    body: collections.searchSchema,
    ok: { status: 200, description: 'The best chunks.', schema: list(ref('SearchResult'), { collection_id: string }) },
  },
  {
    method: 'post',
    path: '/v1/search',
    tag: 'Knowledge',
    summary: 'Search several collections',
    description: 'Those named, or every one the key sees.',
    auth: 'key',
    body: collections.crossSearchSchema,
    ok: { status: 200, description: 'The best chunks.', schema: list(ref('SearchResult'), { collections: arrayOf(string) }) },
  },
  // This document
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'Meta',
    summary: 'This OpenAPI document',
    auth: 'none',
    ok: { status: 200, description: 'The OpenAPI 3.1 document.', schema: { type: 'object' } },
  },
];

/** `/v1/prompts/:name/versions/:version` → `/v1/prompts/{name}/versions/{version}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]\w*)/g, '{$1}');

function operationId(o: Operation): string {
  const words = o.path
    .split('/')
    .filter(Boolean)
    .map((s) => (s.startsWith(':') ? `By_${s.slice(1)}` : s))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return o.method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function parameters(o: Operation): JsonSchema[] {
  const params: JsonSchema[] = [];
  for (const [, name] of o.path.matchAll(/:([A-Za-z_]\w*)/g)) {
    const schema = o.pathParams?.[name as string];
    params.push({ name, in: 'path', required: true, schema: schema ? inputSchema(schema) : string });
  }
  for (const p of o.extraQuery ?? []) params.push({ name: p.name, in: 'query', required: false, description: p.description, schema: p.schema });
  if (o.query) {
    const s = inputSchema(o.query);
    const required = new Set((s.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = schema;
      params.push({ name, in: 'query', required: required.has(name), ...(description ? { description } : {}), schema: rest });
    }
    if (o.query === usage.querySchema) {
      const groupBy = params.find((p) => p.name === 'group_by');
      if (groupBy) groupBy.description = `A comma-separated list of: ${Object.keys(usage.GROUPS).join(', ')}.`;
    }
  }
  return params;
}

function operation(o: Operation): JsonSchema {
  const hasInput = o.body !== undefined || o.query !== undefined || o.pathParams !== undefined;
  const statuses = [
    ...(hasInput ? ['400'] : []),
    ...(o.auth === 'none' ? [] : ['401', '403']),
    ...(o.path.includes(':') ? ['404'] : []),
    ...(o.body ? ['413', '415'] : []),
    ...(o.errors ?? []),
    '5XX',
  ];
  const content: JsonSchema = { 'application/json': { schema: o.ok.schema } };
  if (o.ok.csv) content['text/csv'] = { schema: { type: 'string', description: 'With format=csv: a header line, then one line per group.' } };
  if (o.ok.sse) content['text/event-stream'] = { schema: { type: 'string', description: 'Server-sent chat.completion.chunk events, ending with `data: [DONE]`.' } };
  const responses: JsonSchema = {
    [String(o.ok.status)]: {
      description: o.ok.description,
      ...(o.ok.headers ? { headers: Object.fromEntries(Object.entries(o.ok.headers).map(([h, d]) => [h, { description: d, schema: string }])) } : {}),
      content,
    },
  };
  for (const s of [...new Set(statuses)].sort()) responses[s] = { $ref: `#/components/responses/${s}` };

  let requestBody: JsonSchema | undefined;
  if (o.body) {
    const body = 'json' in o.body ? o.body : { json: inputSchema(o.body) };
    requestBody = {
      required: !o.bodyOptional,
      content: { 'application/json': { schema: body.json }, ...(body.multipart ? { 'multipart/form-data': { schema: body.multipart } } : {}) },
    };
  }
  const params = parameters(o);
  return {
    operationId: operationId(o),
    tags: [o.tag],
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    security: o.auth === 'none' ? [] : [{ [o.auth === 'admin' ? 'adminKey' : 'tenantKey']: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/** The version in package.json, looked for upwards from this file (src/http or dist/src/http). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'context-gateway' && pkg.version) return pkg.version;
    } catch {}
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

function build(): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const o of OPERATIONS) {
    const p = openApiPath(o.path);
    paths[p] ??= {};
    paths[p][o.method] = operation(o);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'context-gateway admin and management API',
      version: packageVersion(),
      description:
        'The admin API (`/admin/v1`, with the admin key) and the tenant management APIs (with a tenant API key). Errors use the envelope `{"error":{"message","type","param","code"}}`; every response carries `x-request-id`. Chat completions, sessions, context, embeddings and models follow OpenAI\'s API and are described in the README.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'Tenants' },
      { name: 'API keys' },
      { name: 'Jobs', description: 'Background jobs (summaries, ingestion, indexing).' },
      { name: 'Response cache' },
      { name: 'Usage' },
      { name: 'Memories', description: "Long-term fact memories of the tenant's users." },
      { name: 'Prompts', description: 'Prompt templates published as endpoints, with immutable versions.' },
      { name: 'Knowledge', description: 'Collections, documents and search.' },
      { name: 'Meta' },
    ],
    paths,
    components: {
      securitySchemes: {
        adminKey: { type: 'http', scheme: 'bearer', description: 'The admin API key (ADMIN_API_KEY): /admin/v1 only.' },
        tenantKey: { type: 'http', scheme: 'bearer', description: "A tenant's API key (cgw_…), issued by POST /admin/v1/keys." },
      },
      schemas,
      responses: Object.fromEntries(Object.entries(ERRORS).map(([status, description]) => [status, errorResponse(description)])),
    },
  };
}

let doc: JsonSchema | undefined;

/** The OpenAPI document, built on first use. */
export function openApiDocument(): JsonSchema {
  doc ??= build();
  return doc;
}
