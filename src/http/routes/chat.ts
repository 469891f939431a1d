import { Router as ExpressRouter, type Request, type Response } from 'express';
import { asGatewayError, GatewayError } from '../../errors.js';
import { createStreamAccumulator } from '../../chat/accumulate.js';
import type { ChatService, PreparedChat } from '../../chat/service.js';
import { UPSTREAM_CODES } from '../../providers/http.js';
import type { ChatMessage } from '../../providers/types.js';
import type { Authenticator } from '../../tenancy/auth.js';
import { keyPrincipal, requireKey } from '../middleware/auth.js';
import { ctx } from '../request-context.js';
import { chatRequestSchema, sessionIdSchema } from '../schemas/chat.js';
import { validate } from '../schemas/validate.js';
import { endWithError, SSE_HEADERS, writeEvent } from '../sse.js';

/** POST /v1/chat/completions — OpenAI-compatible, with the gateway's `session_id`. */
export function chatRoutes(deps: { auth: Authenticator; chat: ChatService; streamIdleTimeoutMs: number }) {
  const { chat } = deps;
  const router = ExpressRouter();

  router.post('/v1/chat/completions', requireKey(deps.auth), async (req: Request, res: Response) => {
    const body = validate(chatRequestSchema, req.body);
    const header = req.headers['x-session-id'];
    const sessionId = body.session_id ?? (typeof header === 'string' ? validate(sessionIdSchema, header, 'X-Session-Id header') : undefined);
    const principal = keyPrincipal(res);
    const c = ctx(res);
    c.logFields.model = body.model;
    if (sessionId) c.logFields.session = sessionId;

    const prepared = await chat.prepare({ tenantId: principal.tenantId }, body, sessionId);
    const client = abortOnClose(res);
    if (prepared.session) res.setHeader('x-session-history-turns', String(prepared.session.historyTurns));
    if (body.stream) await stream(res, prepared, client.signal, principal.tenantId);
    else {
      const attempt = await chat.complete(prepared, client.signal);
      try {
        c.logFields.target = attempt.target.provider;
        c.logFields.attempts = attempt.attempts;
        const completion = attempt.result;
        const answer = completion.choices?.[0]?.message;
        if (answer) await chat.persist({ tenantId: principal.tenantId }, prepared, answer as ChatMessage);
        res.json(completion);
      } finally {
        attempt.dispose();
      }
    }
  });

  async function stream(res: Response, prepared: PreparedChat, signal: AbortSignal, tenantId: string): Promise<void> {
    const attempt = await chat.stream(prepared, signal);
    const c = ctx(res);
    c.logFields.target = attempt.target.provider;
    c.logFields.attempts = attempt.attempts;
    const acc = prepared.session ? createStreamAccumulator() : undefined;
    // Between chunks the upstream gets the same allowance as for its first byte.
    const idle = setTimeout(onIdle, deps.streamIdleTimeoutMs);
    function onIdle(): void {
      attempt.abort(new GatewayError(`The upstream stopped sending for ${deps.streamIdleTimeoutMs} ms.`, { status: 504, code: UPSTREAM_CODES.timeout, category: 'upstream' }));
    }
    res.writeHead(200, SSE_HEADERS);
    try {
      for await (const data of attempt.result) {
        idle.refresh();
        acc?.add(data);
        await writeEvent(res, data);
      }
      clearTimeout(idle);
      if (acc) await chat.persist({ tenantId }, prepared, acc.message());
      res.end('data: [DONE]\n\n');
    } catch (raw) {
      const err = asGatewayError(raw);
      c.logFields.code = err.code;
      if (err.code !== UPSTREAM_CODES.aborted) c.log.warn({ code: err.code }, 'stream failed after it started');
      endWithError(res, err);
    } finally {
      clearTimeout(idle);
      attempt.dispose();
    }
  }

  return router;
}

/** An AbortController fired when the client goes away before the response is finished. */
function abortOnClose(res: Response): AbortController {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) {
      ac.abort(new GatewayError('The client closed the request.', { status: 499, code: UPSTREAM_CODES.aborted, category: 'client' }));
    }
  });
  return ac;
}
