/** The OpenAPI document's reusable schemas (responses described by hand, checked against their TypeScript types) and error responses. Part of src/http/openapi.ts. */

import { z } from 'zod';
import type { CacheEntryInfo } from '../../cache/store.js';
import type { FailedJob, JobState } from '../../jobs/port.js';
import type { Collection } from '../../knowledge/collections.js';
import type { DocumentInfo, DocumentStatus } from '../../knowledge/documents.js';
import type { DocumentFormat } from '../../knowledge/parse/types.js';
import type { ChunkHit } from '../../knowledge/search.js';
import type { FileError } from '../../knowledge/uploads.js';
import { MEMORY_CATEGORIES, type Memory, type MemoryEvent, type MemoryEventKind } from '../../memory/facts/store.js';
import type { PromptSummary, PromptVersion } from '../../prompts/store.js';
import { type PromptVariable, VARIABLE_TYPES } from '../../prompts/template.js';
import { ADMIN_ROLES, type AdminKeyRecord, type ApiKeyRecord, type Team, type Tenant } from '../../tenancy/repo.js';
import * as admin from '../routes/admin.js';
import * as usage from '../routes/usage.js';
import { type JsonSchema, allOf, anyObject, arrayOf, boolean, constant, dateTime, describe, fieldsOf, integer, nullable, number, obj, oneOfValues, ref, string } from './shapes.js';

export const JOB_STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const satisfies readonly JobState[];
export const DOCUMENT_STATUSES = ['queued', 'parsing', 'embedding', 'ready', 'failed'] as const satisfies readonly DocumentStatus[];
export const DOCUMENT_FORMATS = ['text', 'markdown', 'html', 'pdf', 'docx', 'json', 'csv'] as const satisfies readonly DocumentFormat[];
export const MEMORY_EVENTS = ['add', 'update', 'invalidate', 'delete', 'restate'] as const satisfies readonly MemoryEventKind[];

export const schemas: Record<string, JsonSchema> = {
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
        rerank_score: describe(number, "The reranking model's score, when a reranker is configured and the search was reranked (hits are in its order)."),
      }),
    },
    ['highlights', 'rerank_score'],
  ),
};

// --- Errors ---------------------------------------------------------------------------------------------

export const ERRORS: Record<string, string> = {
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
export const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });
