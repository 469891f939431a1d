import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import { badRequest, GatewayError } from '../../errors.js';
import type { PromptStore, PromptVersion } from '../../prompts/store.js';
import { checkVariables, placeholders, type PromptVariable, render, typeOf, VARIABLE_TYPES } from '../../prompts/template.js';
import type { Router } from '../../providers/router/router.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { ctx } from '../request-context.js';
import { chatRequestSchema, sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';
import type { ChatHandler } from './chat.js';

/** Names are URL path segments and stable identifiers a team calls by. */
const nameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, - and _, starting with a letter or digit, at most 64');

// A template is prose, not a document: 100k characters is far past any prompt and bounds the row.
const MAX_TEMPLATE_CHARS = 100_000;
const MAX_VARIABLES = 100;

const variableSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'letters, digits and _, not starting with a digit, at most 64'),
  type: z.enum(VARIABLE_TYPES),
  required: z.boolean().optional(),
  description: z.string().max(1000).optional(),
  default: z.unknown().optional(),
});

export const createSchema = z.strictObject({
  name: nameSchema,
  description: z.string().max(1000).default(''),
  template: z.strictObject({ system: z.string().max(MAX_TEMPLATE_CHARS).nullable().optional(), user: z.string().min(1).max(MAX_TEMPLATE_CHARS) }),
  variables: z.array(variableSchema).max(MAX_VARIABLES).default([]),
  model: z.string().min(1).max(200),
  params: z.record(z.string(), z.unknown()).default({}),
  /** Make the new version live at once (default); the first version is always live. */
  activate: z.boolean().default(true),
});

/** Chat fields a template cannot fix: they come from the template itself or from each run. */
const RUN_FIELDS = ['model', 'messages', 'stream', 'stream_options', 'session_id', 'user'] as const;

export const runSchema = z.strictObject({
  variables: z.record(z.string(), z.unknown()).default({}),
  /** Pin a version; the live one otherwise. */
  version: z.number().int().positive().optional(),
  stream: z.boolean().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).optional(),
  session_id: sessionIdSchema.optional(),
  user: z.string().max(256).optional(),
});

/** PUT /v1/prompts/:name/live: the version to make live. */
export const liveSchema = z.strictObject({ version: z.number().int().positive() });

export const versionParam = z.coerce.number().int().positive();

const presentVersion = (v: PromptVersion, live: boolean) => ({ object: 'prompt.version', ...v, live });

/**
 * /v1/prompts — prompt templates published as endpoints: a team calls `POST /v1/prompts/summarize-ticket`
 * with variables, without knowing the model or the prompt. Versions are immutable; one is live and runs
 * by default, any can be pinned, and rolling back is making an older one live. A run is a chat request
 * answered by the chat handler itself (routing, retries, cache, sessions, usage). Within the key's tenant.
 */
export function promptRoutes(deps: { auth: Authenticator; prompts: PromptStore; router: Pick<Router, 'resolve'>; chat: Pick<ChatHandler, 'run'> }) {
  const { prompts } = deps;
  const router = ExpressRouter();
  const auth = requireKey(deps.auth, 'prompts');

  router.post('/v1/prompts', auth, async (req, res) => {
    const { tenantId, keyId } = keyPrincipal(res);
    const b = validate(createSchema, req.body);
    const variables = checkDefinition(b.variables, { system: b.template.system ?? null, user: b.template.user }, b.params);
    try {
      deps.router.resolve(b.model);
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'model_not_found') throw badRequest(err.message, 'model', 'model_not_found');
      throw err;
    }
    const { version, live } = await prompts.publish(
      tenantId,
      { name: b.name, description: b.description, template: { system: b.template.system || null, user: b.template.user }, variables, model: b.model, params: b.params, created_by: keyId },
      b.activate,
    );
    res.status(201).json(presentVersion(version, live));
  });

  router.get('/v1/prompts', auth, async (_req, res) => {
    const data = await prompts.list(keyPrincipal(res).tenantId);
    res.json({ object: 'list', data: data.map((p) => ({ object: 'prompt', ...p })) });
  });

  const describe = async (tenantId: string, name: string) => {
    const p = await prompts.get(tenantId, name);
    return {
      object: 'prompt',
      ...p.summary,
      live: presentVersion(p.live, true),
      versions: p.versions.map((v) => ({ ...v, live: v.version === p.summary.live_version })),
    };
  };

  router.get('/v1/prompts/:name', auth, async (req, res) => {
    res.json(await describe(keyPrincipal(res).tenantId, String(req.params.name)));
  });

  router.get('/v1/prompts/:name/versions/:version', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const v = validate(versionParam, req.params.version, 'version');
    const { version, live } = await prompts.resolve(tenantId, String(req.params.name), v);
    res.json(presentVersion(version, version.version === live));
  });

  // Rollback (or roll forward): which version runs when a caller pins none.
  router.put('/v1/prompts/:name/live', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const { version } = validate(liveSchema, req.body);
    await prompts.setLive(tenantId, String(req.params.name), version);
    res.json(await describe(tenantId, String(req.params.name)));
  });

  router.delete('/v1/prompts/:name', auth, async (req, res) => {
    const name = String(req.params.name);
    await prompts.remove(keyPrincipal(res).tenantId, name);
    res.json({ object: 'prompt.deleted', name, deleted: true });
  });

  router.post('/v1/prompts/:name', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const name = String(req.params.name);
    if (req.body && typeof req.body === 'object' && 'model' in req.body) {
      throw new GatewayError(`Prompt "${name}" fixes its model; publish a new version to change it.`, { status: 400, code: 'prompt_model_fixed', category: 'client', param: 'model' });
    }
    const b = validate(runSchema, req.body);
    const { version: p } = await prompts.resolve(tenantId, name, b.version);
    const text = render(p.template, checkVariables(p.variables, b.variables, name));
    const body = {
      ...p.params,
      model: p.model,
      messages: [...(text.system === null ? [] : [{ role: 'system', content: text.system }]), { role: 'user', content: text.user }],
      ...(b.stream !== undefined ? { stream: b.stream } : {}),
      ...(b.stream_options ? { stream_options: b.stream_options } : {}),
      ...(b.session_id ? { session_id: b.session_id } : {}),
      ...(b.user ? { user: b.user } : {}),
    };
    // Streams have no JSON body to carry `prompt`: the headers say which version answered either way.
    res.setHeader('x-prompt-name', name);
    res.setHeader('x-prompt-version', String(p.version));
    const c = ctx(res);
    c.logFields.prompt = `${name}@${p.version}`;
    await deps.chat.run(req, res, c, body, { prompt: { name, version: p.version } });
  });

  return router;
}

/**
 * Checks a version before it is stored, so a run can only fail on its variables: names unique,
 * defaults of their type, every placeholder declared, and params a valid chat request would take.
 */
function checkDefinition(given: z.infer<typeof variableSchema>[], template: { system: string | null; user: string }, params: Record<string, unknown>): PromptVariable[] {
  const seen = new Set<string>();
  const variables = given.map((v, i): PromptVariable => {
    if (seen.has(v.name)) throw invalid(`Variable "${v.name}" is declared twice.`, `variables[${i}].name`);
    seen.add(v.name);
    if (v.default !== undefined && typeOf(v.default) !== v.type) throw invalid(`The default of "${v.name}" must be of its type, ${v.type}; got ${typeOf(v.default)}.`, `variables[${i}].default`);
    if (v.default !== undefined && v.required === true) throw invalid(`Variable "${v.name}" is required, so it cannot have a default.`, `variables[${i}].default`);
    return { ...v, required: v.required ?? v.default === undefined };
  });
  const undeclared = placeholders(template).filter((n) => !seen.has(n));
  if (undeclared.length > 0) throw invalid(`The template uses undeclared variables: ${undeclared.join(', ')}; declare them in "variables".`, 'template');
  for (const field of RUN_FIELDS) {
    if (field in params) throw invalid(`params.${field} cannot be set by a prompt: ${field === 'model' ? 'use the "model" field' : 'it comes from the template or from each run'}.`, `params.${field}`);
  }
  const checked = chatRequestSchema.safeParse({ ...params, model: 'm', messages: [{ role: 'user', content: 'x' }] });
  if (!checked.success) {
    const issue = checked.error.issues[0] as z.core.$ZodIssue;
    const path = issue.path.map(String).join('.');
    throw invalid(`Invalid params: ${path ? `${path}: ` : ''}${issue.message}`, path ? `params.${path}` : 'params');
  }
  return variables;
}

const invalid = (message: string, param: string) => badRequest(message, param, 'invalid_prompt');
