import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as admin from '../../src/http/routes/admin.js';
import * as cache from '../../src/http/routes/cache.js';
import * as collections from '../../src/http/routes/collections.js';
import * as memories from '../../src/http/routes/memories.js';
import { openApiRoutes } from '../../src/http/routes/openapi.js';
import * as prompts from '../../src/http/routes/prompts.js';
import * as usage from '../../src/http/routes/usage.js';
import * as requests from '../../src/http/routes/requests.js';
import { ADMIN_KEY, startGateway, type TestGateway } from '../helpers/gateway.js';

// GET /openapi.json: a valid OpenAPI 3.1 document of every admin and management route the app serves,
// whose request schemas say what the zod schemas say, and which the live API agrees with.

// biome-ignore lint/suspicious/noExplicitAny: the document is arbitrary JSON.
type Json = any;
type Schema = Record<string, Json>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** `METHOD /path` (express syntax) of every operation in the document. */
function documented(doc: Json): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
}

/** `METHOD /path` of every route an express router serves. */
function served(router: Router): string[] {
  const stack = (router as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack;
  return stack.flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route?.path}`) : []));
}

/** The operation at `METHOD /path`, express syntax. */
function op(doc: Json, route: string): Json {
  const [method, path] = route.split(' ') as [string, string];
  return doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
}

const jsonBody = (doc: Json, route: string): Schema => op(doc, route).requestBody.content['application/json'].schema;

/** The query parameters of an operation as one object schema. */
function querySchema(doc: Json, route: string): Schema {
  const params = (op(doc, route).parameters ?? []).filter((p: Json) => p.in === 'query');
  return { type: 'object', properties: Object.fromEntries(params.map((p: Json) => [p.name, p.schema])), required: params.filter((p: Json) => p.required).map((p: Json) => p.name) };
}

/**
 * The required fields and the enums of a zod schema, by path, read from zod's own definitions (not
 * through its JSON Schema conversion): a field is required when the schema refuses it absent.
 */
function zodFacts(schema: z.ZodType, path = '$', out: Record<string, unknown> = {}): Record<string, unknown> {
  const def = (schema as unknown as { def: Record<string, Json> }).def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      out[`${path} required`] = Object.keys(shape)
        .filter((k) => !(shape[k] as z.ZodType).safeParse(undefined).success)
        .sort();
      for (const [k, v] of Object.entries(shape)) zodFacts(v, `${path}.${k}`, out);
      break;
    }
    case 'enum':
      out[`${path} enum`] = Object.values(def.entries as Record<string, unknown>).sort();
      break;
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
      zodFacts(def.innerType, path, out);
      break;
    case 'array':
      zodFacts(def.element, `${path}[]`, out);
      break;
    case 'pipe':
      zodFacts(def.in, path, out);
      break;
  }
  return out;
}

/** The same facts read from a JSON Schema (unions skipped, as above; `X | null` is X). */
function jsonFacts(s: Schema, path = '$', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (s.properties) {
    out[`${path} required`] = [...(s.required ?? [])].sort();
    for (const [k, v] of Object.entries(s.properties as Record<string, Schema>)) jsonFacts(v, `${path}.${k}`, out);
  } else if (s.enum) {
    out[`${path} enum`] = [...s.enum].sort();
  } else if (s.items) {
    jsonFacts(s.items, `${path}[]`, out);
  } else if (s.anyOf) {
    const branches = (s.anyOf as Schema[]).filter((b) => b.type !== 'null');
    if (branches.length === 1) jsonFacts(branches[0] as Schema, path, out);
  }
  return out;
}

/** The zod schema each documented body and query is validated with by its route. */
const BODIES: Array<[string, z.ZodType]> = [
  ['POST /admin/v1/tenants', admin.tenantSchema],
  ['PATCH /admin/v1/tenants/:id', admin.limitsPatchSchema],
  ['POST /admin/v1/keys', admin.keySchema],
  ['PATCH /admin/v1/keys/:id', admin.limitsPatchSchema],
  ['POST /admin/v1/keys/:id/rotate', admin.rotateSchema],
  ['POST /admin/v1/admin-keys', admin.adminKeySchema],
  ['POST /admin/v1/tenants/:id/teams', admin.teamSchema],
  ['PATCH /admin/v1/tenants/:id/teams/:team', admin.limitsPatchSchema],
  ['POST /v1/memories', memories.createSchema],
  ['POST /v1/memories/search', memories.searchSchema],
  ['PATCH /v1/memories/:id', memories.patchSchema],
  ['POST /v1/prompts', prompts.createSchema],
  ['PUT /v1/prompts/:name/live', prompts.liveSchema],
  ['POST /v1/prompts/:name', prompts.runSchema],
  ['POST /v1/collections', collections.createSchema],
  ['POST /v1/collections/:id/search', collections.searchSchema],
  ['POST /v1/search', collections.crossSearchSchema],
];
const QUERIES: Array<[string, z.ZodType]> = [
  ['GET /admin/v1/jobs', admin.jobsQuerySchema],
  ['GET /admin/v1/cache/entries', cache.entriesQuerySchema],
  ['DELETE /admin/v1/cache/entries', cache.purgeQuerySchema],
  ['DELETE /admin/v1/cache/entries/:id', cache.entryQuerySchema],
  ['GET /v1/usage', usage.querySchema],
  ['GET /v1/memories', memories.listSchema],
  ['DELETE /v1/memories', memories.forgetQuerySchema],
];

describe('OpenAPI document', () => {
  let gw: TestGateway;
  let doc: Json;
  let tenant: Awaited<ReturnType<TestGateway['tenant']>>;
  beforeAll(async () => {
    gw = await startGateway();
    tenant = await gw.tenant('openapi');
    const res = await fetch(`${gw.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await res.json();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is a valid OpenAPI 3.1 document, served without a key, versioned as package.json', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info).toMatchObject({ title: expect.any(String), version: pkg.version });
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.components.securitySchemes.adminKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.tenantKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.ErrorBody.required).toEqual(['message', 'type', 'param', 'code']);
  });

  it('documents every route of the admin and management routers, and only those', () => {
    // The routers as the app builds them; their handlers never run here.
    const stub = {} as never;
    const routers = [admin.adminRoutes(stub), cache.cacheAdminRoutes(stub), usage.usageRoutes(stub), requests.requestRoutes(stub), memories.memoryRoutes(stub), prompts.promptRoutes(stub), collections.collectionRoutes(stub), openApiRoutes()];
    const routes = routers.flatMap(served);
    expect(routes.filter((r) => r.includes(' /admin/v1')).length).toBeGreaterThanOrEqual(15);
    expect([...documented(doc)].sort()).toEqual([...new Set(routes)].sort());
  });

  it('every documented operation exists on the live gateway and asks for the key it says', async () => {
    const routes = documented(doc);
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const url = path.replace(/:\w+/g, 'openapi-probe');
      const security = op(doc, route).security as Array<Record<string, unknown>>;
      if (security.length === 0) {
        expect((await gw.call(method, url)).status, route).toBe(200);
        continue;
      }
      const isAdmin = Object.keys(security[0] as object)[0] === 'adminKey';
      const [right, wrong] = isAdmin ? [ADMIN_KEY, tenant.key] : [tenant.key, ADMIN_KEY];
      // No key → 401; the other kind of key → 403; the right one → anything but "no such route".
      expect((await gw.call(method, url)).status, `${route} without a key`).toBe(401);
      expect((await gw.call(method, url, { key: wrong })).status, `${route} with the other kind of key`).toBe(403);
      const res = await gw.call(method, url, { key: right });
      expect(res.body?.error?.code, route).not.toBe('route_not_found');
      expect([401, 403], route).not.toContain(res.status);
    }
  });

  it('request bodies and query parameters have the required fields and enums of the zod schemas', () => {
    for (const [route, schema] of BODIES) expect(jsonFacts(jsonBody(doc, route)), route).toEqual(zodFacts(schema));
    for (const [route, schema] of QUERIES) expect(jsonFacts(querySchema(doc, route)), route).toEqual(zodFacts(schema));
    // Every documented JSON body is one of those checked (the documents route's alternatives aside).
    const withBodies = documented(doc).filter((r) => op(doc, r).requestBody && r !== 'POST /v1/collections/:id/documents');
    expect(withBodies.sort()).toEqual(BODIES.map(([r]) => r).sort());

    const keys = jsonBody(doc, 'POST /admin/v1/keys');
    expect(keys.required).toEqual(['tenant_id']);
    expect(keys.properties.limits).toMatchObject({ type: 'object', additionalProperties: false });
    expect(keys.properties.limits.properties.rpm).toMatchObject({ type: 'integer', minimum: 1 });
    expect(keys.properties.limits.properties.alert_at).toMatchObject({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 });
    expect(keys.properties.expires_at).toMatchObject({ type: 'string', format: 'date-time' });
    expect(jsonBody(doc, 'PATCH /admin/v1/keys/:id').required).toEqual(['limits']);
    expect(op(doc, 'POST /admin/v1/keys/:id/rotate').requestBody.required).toBe(false);
    expect(jsonBody(doc, 'POST /v1/memories').properties.category.enum).toEqual(['preference', 'plan', 'person', 'event', 'fact']);

    const jobs = querySchema(doc, 'GET /admin/v1/jobs');
    expect(jobs.properties.limit).toMatchObject({ type: 'integer', minimum: 0, maximum: 1000, default: 50 });
    expect(jobs.required).toEqual([]);
    expect(querySchema(doc, 'GET /admin/v1/usage').properties.format.enum).toEqual(['json', 'csv']);
    expect(querySchema(doc, 'DELETE /admin/v1/cache/entries/:id').required).toEqual(['tenant_id']);
    expect(op(doc, 'GET /v1/prompts/:name/versions/:version').parameters.find((p: Json) => p.name === 'version').schema).toMatchObject({ type: 'integer' });

    // Errors: every operation names the error envelope for its 4xx and 5xx.
    for (const route of documented(doc)) {
      const responses = op(doc, route).responses as Record<string, Json>;
      expect(responses['5XX'], route).toEqual({ $ref: '#/components/responses/5XX' });
      if (op(doc, route).security.length > 0) expect(responses['401'], route).toBeDefined();
    }
    expect(doc.components.responses['400'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  it('what the document says is valid the live API accepts, and what it says is invalid it refuses', async () => {
    const key = (await gw.admin('POST', '/admin/v1/keys', { tenant_id: tenant.id, name: 'patched' })).body;
    const cases: Array<{ route: string; path: string; body: unknown; valid: boolean; param?: string }> = [
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { tenant_id: tenant.id, name: 'docs', limits: { rpm: 60, tpm: 10_000, alert_at: 0.8 } }, valid: true },
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { tenant_id: tenant.id, limits: { tpm: 0 } }, valid: false, param: 'limits.tpm' },
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { tenant_id: tenant.id, limits: { rpm: 1.5 } }, valid: false, param: 'limits.rpm' },
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { tenant_id: tenant.id, limits: { rps: 1 } }, valid: false },
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { name: 'no tenant' }, valid: false, param: 'tenant_id' },
      { route: 'POST /admin/v1/keys', path: '/admin/v1/keys', body: { tenant_id: tenant.id, expires_at: 'tomorrow' }, valid: false, param: 'expires_at' },
      { route: 'PATCH /admin/v1/keys/:id', path: `/admin/v1/keys/${key.id}`, body: { limits: { tokens_per_day: 1000, usd_per_month: 2.5 } }, valid: true },
      { route: 'PATCH /admin/v1/keys/:id', path: `/admin/v1/keys/${key.id}`, body: { limits: { alert_at: 1 } }, valid: false, param: 'limits.alert_at' },
      { route: 'PATCH /admin/v1/tenants/:id', path: `/admin/v1/tenants/${tenant.id}`, body: { limits: {} }, valid: true },
      { route: 'PATCH /admin/v1/tenants/:id', path: `/admin/v1/tenants/${tenant.id}`, body: {}, valid: false, param: 'limits' },
      { route: 'POST /admin/v1/tenants', path: '/admin/v1/tenants', body: { name: 'Docs Inc', id: 'docs-inc', metadata: { plan: 'pro' } }, valid: true },
      { route: 'POST /admin/v1/tenants', path: '/admin/v1/tenants', body: { name: 'Bad', id: 'no spaces' }, valid: false, param: 'id' },
    ];
    for (const c of cases) {
      const label = `${c.route} ${JSON.stringify(c.body)}`;
      const schema = z.fromJSONSchema(jsonBody(doc, c.route) as never);
      expect(schema.safeParse(c.body).success, `the document on ${label}`).toBe(c.valid);
      const [method] = c.route.split(' ') as [string];
      const res = await gw.admin(method, c.path, c.body);
      if (c.valid) expect(res.status, label).toBeLessThan(300);
      else {
        expect(res.status, label).toBe(400);
        expect(res.body.error, label).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
        if (c.param) expect(res.body.error.param, label).toBe(c.param);
      }
    }

    // The same for a query: what GET /admin/v1/jobs documents.
    const limit = z.fromJSONSchema(querySchema(doc, 'GET /admin/v1/jobs').properties.limit);
    expect(limit.safeParse(5).success).toBe(true);
    expect((await gw.admin('GET', '/admin/v1/jobs?limit=5')).status).toBe(200);
    expect(limit.safeParse(5000).success).toBe(false);
    expect((await gw.admin('GET', '/admin/v1/jobs?limit=5000')).status).toBe(400);
  });

  it('describes what the admin API answers', async () => {
    const created = await gw.admin('POST', '/admin/v1/keys', { tenant_id: tenant.id });
    const listed = await gw.admin('GET', `/admin/v1/keys?tenant_id=${tenant.id}`);
    const fields = (name: string) => Object.keys(doc.components.schemas[name].properties).sort();
    expect(Object.keys(listed.body.data[0]).sort()).toEqual(fields('ApiKey'));
    expect(Object.keys(created.body)).toContain('key');
    const t = await gw.admin('GET', `/admin/v1/tenants/${tenant.id}`);
    expect(Object.keys(t.body).sort()).toEqual(fields('Tenant'));
    const jobs = await gw.admin('GET', '/admin/v1/jobs');
    expect(Object.keys(jobs.body).sort()).toEqual(fields('Jobs'));
    const err = await gw.admin('GET', '/admin/v1/tenants/nope');
    expect(Object.keys(err.body.error).sort()).toEqual(fields('ErrorBody'));
  });
});
