import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as usage from './routes/usage.js';
import { type JsonSchema, inputSchema, string } from './openapi/shapes.js';
import { ERRORS, errorResponse, schemas } from './openapi/components.js';
import { OPERATIONS, type Operation } from './openapi/operations.js';

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
