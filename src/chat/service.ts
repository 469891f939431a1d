import type { Config } from '../config/schema.js';
import { type BuiltContext, type ContextPipeline, lastUserText } from '../context/pipeline.js';
import type { Embedder } from '../embeddings/port.js';
import { badRequest } from '../errors.js';
import type { SessionMemory } from '../memory/session-memory.js';
import { type NewTurn, toNewTurn } from '../memory/turns.js';
import type { CancelSignal } from '../providers/cancel.js';
import type { Attempt, ResolvedModel, Router } from '../providers/router/router.js';
import type { ChatCompletion, ChatMessage, ChatRequest, ChunkStream } from '../providers/types.js';
import { getTokenizer } from '../tokens/tokenizer.js';
import { inSpan } from '../observability/tracing.js';
import type { ChatRequestBody } from '../http/schemas/chat.js';

export interface ChatCaller {
  tenantId: string;
  /** The key's scopes (empty: unrestricted). */
  scopes: readonly string[];
}

/** A request ready for the router: the upstream body, and what to persist once answered. */
export interface PreparedChat {
  resolved: ResolvedModel;
  /** Body sent upstream, `model` filled per target. */
  body: ChatRequest;
  session: { id: string; userId: string | null; turns: NewTurn[] } | undefined;
  /** The assembled context: tokens per section and what was included (session requests). */
  context: BuiltContext | undefined;
  /** The request's `user`. */
  userId: string | undefined;
  /** Route to the cheapest target first: the caller's budget is past the alias's threshold. */
  economy?: boolean;
  /**
   * The embedding of the last user message, computed on first call and shared by the context
   * pipeline's retrieval and the semantic cache, so a request embeds its question at most once.
   */
  queryVector(): Promise<Float32Array>;
}

/**
 * The chat pipeline without HTTP: resolve the model, assemble the prompt within the model's window
 * (session history, retrieved memories), call the router, and write the turns back once answered.
 */
export function createChatService(deps: {
  config: Config;
  router: Router;
  memory: SessionMemory;
  context: ContextPipeline;
  embedder: Pick<Embedder, 'embed'>;
  /** Masks PII in what is stored in memory (turns and answers), when the deployment redacts. */
  maskForMemory?: ((m: ChatMessage) => ChatMessage) | undefined;
}) {
  const { config, router, memory } = deps;
  const stored = deps.maskForMemory ?? ((m: ChatMessage) => m);

  /**
   * Resolves the model and assembles the prompt. A request with neither a session nor a `context`
   * field is passed through as sent, unless `assembleAlways` (POST /v1/context reports on every request).
   */
  async function prepare(caller: ChatCaller, req: ChatRequestBody, sessionId: string | undefined, assembleAlways = false): Promise<PreparedChat> {
    const resolved = router.resolve(req.model);
    const { session_id: _ignored, context: options, ...rest } = req;
    const body = rest as ChatRequest;
    let vector: Promise<Float32Array> | undefined;
    const queryVector = (): Promise<Float32Array> => {
      vector ??= deps.embedder.embed([lastUserText(body.messages)], { kind: 'query' }).then(([v]) => v as Float32Array);
      return vector;
    };
    const userId = req.user;
    if (!sessionId && !options && !assembleAlways) return { resolved, body, session: undefined, context: undefined, userId, queryVector };

    if (sessionId && (req.n ?? 1) > 1) throw badRequest('n > 1 cannot be used with session_id: a session stores one answer per turn.', 'n');
    const context = await deps.context.build({
      tenantId: caller.tenantId,
      scopes: caller.scopes,
      resolved,
      messages: body.messages,
      sessionId,
      userId: req.user,
      reservedCompletionTokens: reservedTokens(req, resolved),
      options,
      queryVector,
    });
    body.messages = context.messages;
    const tokenizer = getTokenizer(resolved.info.encoding);
    const turns = req.messages.filter((m) => m.role !== 'system' && m.role !== 'developer').map((m) => toNewTurn(stored(m as ChatMessage), tokenizer));
    return { resolved, body, session: sessionId ? { id: sessionId, userId: req.user ?? null, turns } : undefined, context, userId, queryVector };
  }

  function reservedTokens(req: ChatRequestBody, resolved: ResolvedModel): number {
    return req.max_completion_tokens ?? req.max_tokens ?? resolved.reservedCompletionTokens ?? config.session.defaultReservedCompletionTokens;
  }

  /** Persists the request's turns and the answer; SQL is written before the response completes. */
  async function persist(caller: ChatCaller, prepared: PreparedChat, answer: ChatMessage): Promise<void> {
    const s = prepared.session;
    if (!s) return;
    const tokenizer = getTokenizer(prepared.resolved.info.encoding);
    const turns = [...s.turns, toNewTurn(stored(answer), tokenizer)];
    await inSpan('persist', { 'gateway.turns': turns.length }, () => memory.append(caller.tenantId, s.id, s.userId, turns));
  }

  return {
    prepare,
    persist,
    complete(prepared: PreparedChat, signal: CancelSignal): Promise<Attempt<ChatCompletion>> {
      return router.run(prepared.resolved, signal, (provider, target, s) => provider.complete({ body: { ...prepared.body, model: target.model }, signal: s }), {
        economy: prepared.economy === true,
      });
    },
    stream(prepared: PreparedChat, signal: CancelSignal): Promise<Attempt<ChunkStream>> {
      return router.run(prepared.resolved, signal, (provider, target, s) => provider.stream({ body: { ...prepared.body, model: target.model, stream: true }, signal: s }), {
        economy: prepared.economy === true,
      });
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
