import { Router as ExpressRouter } from 'express';
import type { ChatService } from '../../chat/service.js';
import { citationsOf } from '../../context/pipeline.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { chatRequestSchema, sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';

/**
 * POST /v1/context — the chat pipeline up to the budget, without calling a model: the messages the
 * model would be sent, tokens per section, and every included item with its provenance. For agents
 * that bring their own model, for debugging a prompt, and for retrieval evals. Nothing is stored.
 */
export function contextRoutes(deps: { auth: Authenticator; chat: ChatService }) {
  const router = ExpressRouter();
  router.post('/v1/context', requireKey(deps.auth, 'context'), async (req, res) => {
    const principal = keyPrincipal(res);
    const body = validate(chatRequestSchema, req.body);
    const header = req.headers['x-session-id'];
    const sessionId = body.session_id ?? (typeof header === 'string' ? validate(sessionIdSchema, header, 'X-Session-Id header') : undefined);
    const prepared = await deps.chat.prepare({ tenantId: principal.tenantId, scopes: principal.scopes }, body, sessionId, true);
    const context = prepared.context;
    if (!context) throw new Error('the pipeline returned no context');
    const { total, budget, ...sections } = context.tokens;
    res.json({
      object: 'context',
      model: prepared.resolved.alias,
      session_id: sessionId ?? null,
      messages: context.messages,
      usage: { prompt_tokens: total, budget, context: sections },
      items: context.items,
      ...(body.context?.citations ? { citations: citationsOf(context) } : {}),
      retrieval: context.retrieval,
    });
  });
  return router;
}
