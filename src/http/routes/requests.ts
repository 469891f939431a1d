import { Router as ExpressRouter } from 'express';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import type { Sql } from '../../store/sql.js';
import type { Authenticator } from '../../tenancy/auth.js';
import type { UsageRecorder } from '../../usage/recorder.js';
import { requireAdmin } from '../middleware/auth.js';
import { validate } from '../schemas/validate.js';

export const requestQuerySchema = z.strictObject({ tenant_id: z.string().min(1).max(64).optional() });

/**
 * GET /admin/v1/requests/:id — one request by its id (the `x-request-id` every response carries): its
 * usage row, and its masked prompt and answer when its tenant's capture is on. Client-chosen ids can
 * repeat across tenants: `tenant_id` narrows the lookup, otherwise the newest match answers.
 */
export function requestRoutes(deps: { auth: Authenticator; sql: Sql; usage: UsageRecorder }) {
  const router = ExpressRouter();
  router.get('/admin/v1/requests/:id', requireAdmin(deps.auth), async (req, res) => {
    const { tenant_id } = validate(requestQuerySchema, req.query, 'query');
    const id = String(req.params.id);
    // The usage row of the last second may still be in this process's buffer.
    await deps.usage.flush();
    const { rows } = await deps.sql.query<Record<string, unknown>>(
      `SELECT u.tenant_id, u.request_id, u.key_id, u.team_id, u.user_id, u.session_id, u.route, u.alias, u.provider, u.model,
              u.prompt_tokens, u.cached_tokens, u.completion_tokens, u.context_tokens, u.cache, u.cost_usd, u.saved_usd,
              u.latency_ms, u.status, u.error_code, u.created_at, c.messages AS captured_messages, c.answer AS captured_answer
         FROM usage_events u LEFT JOIN request_captures c ON c.tenant_id = u.tenant_id AND c.request_id = u.request_id
        WHERE u.request_id = $1 AND ($2::text IS NULL OR u.tenant_id = $2)
        ORDER BY u.created_at DESC LIMIT 1`,
      [id, tenant_id ?? null],
    );
    const row = rows[0];
    if (!row) throw notFound(`No request with id ${id}${tenant_id ? ` in tenant ${tenant_id}` : ''}.`, 'request_not_found');
    const { captured_messages, captured_answer, created_at, ...usage } = row;
    res.json({
      object: 'request',
      ...usage,
      created_at: new Date(created_at as string).toISOString(),
      capture: captured_messages ? { messages: captured_messages, answer: captured_answer } : null,
    });
  });
  return router;
}
