import type { ResponseCache } from '../../cache/cache.js';
import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import type { Embedder } from '../../embeddings/port.js';
import { GatewayError, notFound } from '../../errors.js';
import type { FactIndex } from '../../memory/facts/index.js';
import { MEMORY_CATEGORIES, type Memory, type MemoryCategory, type MemoryStore } from '../../memory/facts/store.js';
import type { Authenticator } from '../../tenancy/auth.js';
import type { Logger } from '../../observability/logger.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';

const userSchema = z.string().min(1).max(200);
const category = z.enum(MEMORY_CATEGORIES as [MemoryCategory, ...MemoryCategory[]]);
const text = z.string().trim().min(1).max(2000);
const eventAt = z.iso.datetime({ offset: true }).or(z.iso.date()).nullable();

export const createSchema = z.strictObject({
  user: userSchema,
  text,
  category: category.default('fact'),
  session_id: sessionIdSchema.optional(),
  event_at: eventAt.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const patchSchema = z
  .strictObject({ text: text.optional(), category: category.optional(), event_at: eventAt.optional(), metadata: z.record(z.string(), z.unknown()).optional() })
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change: give text, category, event_at or metadata' });

export const listSchema = z.object({
  user: userSchema,
  /** Only the facts scoped to (or read from) this session. */
  session_id: sessionIdSchema.optional(),
  include_invalid: z.enum(['true', 'false']).default('false'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().min(1).optional(),
});

export const searchSchema = z.strictObject({ user: userSchema, query: z.string().min(1).max(4000), top_k: z.number().int().min(1).max(100).default(10) });

/** DELETE /v1/memories: the user to forget. */
export const forgetQuerySchema = z.object({ user: userSchema });

const present = (m: Memory) => ({ object: 'memory', ...m, current: m.valid_to === null });

/**
 * /v1/memories — the long-term fact memory, for apps and agents: list a user's facts, add one
 * directly, correct or delete it, read its history, search by meaning, and forget a user entirely
 * (SQL and vector store). Every call is within the key's tenant; another tenant's id answers 404.
 */
export function memoryRoutes(deps: {
  auth: Authenticator;
  store: MemoryStore;
  index: FactIndex;
  embedder: Embedder;
  log: Logger;
  cache: Pick<ResponseCache, 'remove'>;
  /** Masks PII in memory texts written through the API, when the deployment redacts what it stores. */
  maskText?: ((text: string) => string) | undefined;
}) {
  const mask = deps.maskText ?? ((text: string) => text);
  const { store, index } = deps;
  const router = ExpressRouter();
  const auth = requireKey(deps.auth, 'memories');
  /** Vectors follow SQL after the commit; a store that is down leaves them to a reindex, never fails the call. */
  const indexed = (what: string, p: Promise<void>) =>
    p.catch((err: unknown) => deps.log.warn({ err: (err as Error).message, what }, 'memory vectors not updated; search finds the change after a reindex'));

  const found = async (tenantId: string, id: string): Promise<Memory> => {
    const m = await store.get(tenantId, id);
    if (!m) throw notFound(`No memory with id ${id}.`, 'memory_not_found');
    return m;
  };

  router.get('/v1/memories', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const q = validate(listSchema, req.query, 'query');
    const data = await store.list(tenantId, q.user, {
      includeInvalid: q.include_invalid === 'true',
      limit: q.limit,
      ...(q.after ? { before: q.after } : {}),
      ...(q.session_id ? { sessionId: q.session_id } : {}),
    });
    res.json({ object: 'list', user: q.user, data: data.map(present), has_more: data.length === q.limit });
  });

  router.post('/v1/memories', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const b = validate(createSchema, req.body);
    const m = await store.sql.transaction((tx) =>
      store.add(tx, tenantId, { userId: b.user, sessionId: b.session_id ?? null, text: mask(b.text), category: b.category, eventAt: b.event_at ?? null, source: 'api', metadata: b.metadata ?? {} }),
    );
    await indexed('add', index.write(tenantId, [m], []));
    res.status(201).json(present(m));
  });

  router.post('/v1/memories/search', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const b = validate(searchSchema, req.body);
    const [vector] = await deps.embedder.embed([b.query], { kind: 'query' });
    const hits = await index.search(tenantId, b.user, vector as Float32Array, b.top_k);
    res.json({ object: 'list', user: b.user, data: hits.map((h) => ({ ...present(h.memory), score: Number(h.score.toFixed(5)) })) });
  });

  router.get('/v1/memories/:id', auth, async (req, res) => {
    res.json(present(await found(keyPrincipal(res).tenantId, String(req.params.id))));
  });

  router.patch('/v1/memories/:id', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = String(req.params.id);
    const b = validate(patchSchema, req.body);
    const current = (before: Memory): void => {
      if (before.valid_to === null) return;
      throw new GatewayError(`Memory ${id} is no longer current (superseded by ${before.superseded_by ?? 'nothing'}); change the current one.`, {
        status: 409,
        code: 'memory_not_current',
        category: 'client',
      });
    };
    const change = { text: b.text === undefined ? undefined : mask(b.text), category: b.category, ...(b.event_at !== undefined ? { eventAt: b.event_at } : {}), metadata: b.metadata };
    const m = await store.sql.transaction((tx) => store.update(tx, tenantId, id, change, { actor: 'api' }, current));
    if (b.text) await indexed('update', index.write(tenantId, [m], []));
    res.json(present(m));
  });

  router.get('/v1/memories/:id/history', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = String(req.params.id);
    await found(tenantId, id);
    res.json({ object: 'list', memory_id: id, data: (await store.history(tenantId, id)).map((e) => ({ object: 'memory.event', ...e })) });
  });

  router.delete('/v1/memories/:id', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = String(req.params.id);
    const userId = await store.remove(tenantId, id);
    if (userId === undefined) throw notFound(`No memory with id ${id}.`, 'memory_not_found');
    await indexed('delete', index.forget(tenantId, userId, [id]));
    res.json({ id, object: 'memory.deleted', deleted: true });
  });

  // The right to be forgotten: every memory of the user and its history, from SQL and the vectors.
  router.delete('/v1/memories', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const { user } = validate(forgetQuerySchema, req.query, 'query');
    const ids = await store.removeUser(tenantId, user);
    await index.forgetUser(tenantId, user);
    // Cached answers built from the user's memories go before this answers.
    await deps.cache.remove({ tenantId, userId: user });
    res.json({ object: 'memory.deleted', user, deleted: ids.length });
  });

  return router;
}
