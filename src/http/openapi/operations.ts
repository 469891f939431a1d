/** The documented operations: method, path, request schemas (the routes' own zod schemas) and responses. Part of src/http/openapi.ts. */

import type { z } from 'zod';
import * as admin from '../routes/admin.js';
import * as cache from '../routes/cache.js';
import * as collections from '../routes/collections.js';
import * as memories from '../routes/memories.js';
import * as prompts from '../routes/prompts.js';
import * as requests from '../routes/requests.js';
import * as usage from '../routes/usage.js';
import { type JsonSchema, type Method, allOf, arrayOf, boolean, constant, deleted, inputSchema, integer, list, nullable, number, obj, ref, string } from './shapes.js';

export interface Operation {
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

export const SCOPE_NOTE = 'A key limited by `route:` scopes needs the scope of this API.';

export const OPERATIONS: Operation[] = [
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
