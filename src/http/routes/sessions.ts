import type { ResponseCache } from '../../cache/cache.js';
import type { SummaryStore } from '../../memory/summaries/store.js';
import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { TurnIndexer } from '../../memory/episodic/indexer.js';
import type { SessionMemory } from '../../memory/session-memory.js';
import type { Transcript } from '../../memory/transcript.js';
import { type Turn, toMessage, toNewTurn } from '../../memory/turns.js';
import type { Router } from '../../providers/router/router.js';
import type { ChatMessage } from '../../providers/types.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { lookupModel } from '../../tokens/models.js';
import { getTokenizer } from '../../tokens/tokenizer.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';

// One import request carries at most this many turns; larger histories are sent in pages.
const MAX_IMPORT_TURNS = 5000;
const MAX_PAGE = 1000;

const importSchema = z.object({
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]),
        name: z.string().optional(),
        tool_calls: z.array(z.looseObject({ id: z.string(), type: z.literal('function'), function: z.object({ name: z.string(), arguments: z.string() }) })).optional(),
        tool_call_id: z.string().optional(),
        external_id: z.string().min(1).max(200).optional(),
        created_at: z.iso.datetime({ offset: true }).optional(),
        metadata: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1)
    .max(MAX_IMPORT_TURNS, `at most ${MAX_IMPORT_TURNS} turns per request`),
  user: z.string().max(256).optional(),
  /** Model whose tokenizer counts the turns (an alias or a model name); o200k when absent. */
  model: z.string().optional(),
});

const pageSchema = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
});

function present(t: Turn) {
  return { ...toMessage(t), seq: t.seq, external_id: t.externalId, created_at: t.createdAt, token_count: t.tokenCount };
}

/** The transcript API: read, delete and bulk-import a session's turns, always within the tenant. */
export function sessionRoutes(deps: {
  auth: Authenticator;
  transcript: Transcript;
  memory: SessionMemory;
  router: Router;
  indexer: TurnIndexer | undefined;
  summaries: SummaryStore;
  cache: Pick<ResponseCache, 'remove'>;
  /** Masks PII in imported turns, when the deployment redacts what it stores. */
  maskForMemory?: ((m: ChatMessage) => ChatMessage) | undefined;
}) {
  const stored = deps.maskForMemory ?? ((m: ChatMessage) => m);
  const { transcript, memory } = deps;
  const router = ExpressRouter();
  const auth = requireKey(deps.auth, 'sessions');
  const sessionParam = (raw: string | string[] | undefined): string => validate(sessionIdSchema, raw, 'session id');

  router.get('/v1/sessions/:id', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = sessionParam(req.params.id);
    const session = await transcript.session(tenantId, id);
    if (!session) throw notFound(`No session with id ${id}.`, 'session_not_found');
    // Turns not yet in the vector store: retrieval finds them by full text until they are.
    const pending = deps.indexer ? await deps.indexer.pending(tenantId, id) : null;
    res.json({ object: 'session', ...session, memory: { episodic: deps.indexer !== undefined, turns_pending_embedding: pending } });
  });

  // The session's rolling summaries, newest first: each version with the turns it covers.
  router.get('/v1/sessions/:id/summaries', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = sessionParam(req.params.id);
    const session = await transcript.session(tenantId, id);
    if (!session) throw notFound(`No session with id ${id}.`, 'session_not_found');
    const versions = await deps.summaries.list(tenantId, id);
    res.json({
      object: 'list',
      session_id: id,
      data: versions.map((v) => ({
        object: 'session.summary',
        version: v.version,
        from_seq: v.fromSeq,
        to_seq: v.toSeq,
        text: v.text,
        tokens: v.tokens,
        method: v.method,
        model: v.model,
        created_at: v.createdAt,
      })),
    });
  });

  router.get('/v1/sessions/:id/messages', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = sessionParam(req.params.id);
    const q = validate(pageSchema, req.query, 'query');
    const session = await transcript.session(tenantId, id);
    if (!session) throw notFound(`No session with id ${id}.`, 'session_not_found');
    const turns = await transcript.page(tenantId, id, { afterSeq: q.after, limit: q.limit });
    const last = turns[turns.length - 1];
    res.json({
      object: 'list',
      session_id: id,
      data: turns.map(present),
      has_more: last !== undefined && last.seq < session.last_seq,
      last_seq: session.last_seq,
    });
  });

  router.delete('/v1/sessions/:id', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = sessionParam(req.params.id);
    await transcript.deleteSession(tenantId, id);
    await Promise.all([memory.invalidate(tenantId, id), deps.indexer?.forgetSession(tenantId, id), deps.cache.remove({ tenantId, sessionId: id })]);
    res.json({ id, object: 'session.deleted', deleted: true });
  });

  router.post('/v1/sessions/:id/messages', auth, async (req, res) => {
    const { tenantId } = keyPrincipal(res);
    const id = sessionParam(req.params.id);
    const body = validate(importSchema, req.body);
    const encoding = body.model ? modelEncoding(deps.router, body.model) : 'o200k_base';
    const tokenizer = getTokenizer(encoding);
    const turns = body.messages.map((m) => ({
      ...toNewTurn(stored(m as ChatMessage), tokenizer, { externalId: m.external_id ?? null, createdAt: m.created_at ?? null }),
      metadata: m.metadata ?? {},
    }));
    const { imported, skipped } = await transcript.importTurns(tenantId, id, body.user ?? null, turns);
    await memory.invalidate(tenantId, id);
    if (imported.length > 0) deps.indexer?.notify();
    res.status(201).json({
      object: 'session.import',
      session_id: id,
      imported: imported.length,
      skipped,
      first_seq: imported[0]?.seq ?? null,
      last_seq: imported[imported.length - 1]?.seq ?? null,
    });
  });

  return router;
}

function modelEncoding(router: Router, model: string) {
  try {
    return router.resolve(model).info.encoding;
  } catch {
    return lookupModel(model).encoding;
  }
}
