import type { Config } from '../config/schema.js';
import { badRequest, GatewayError } from '../errors.js';
import { fitHistory } from '../context/history.js';
import type { SessionMemory } from '../memory/session-memory.js';
import { type NewTurn, toNewTurn } from '../memory/turns.js';
import type { Attempt, ResolvedModel, Router } from '../providers/router/router.js';
import type { ChatCompletion, ChatMessage, ChatRequest, ChunkStream } from '../providers/types.js';
import { getTokenizer, REPLY_PRIMING_TOKENS } from '../tokens/tokenizer.js';
import type { ChatRequestBody } from '../http/schemas/chat.js';

export interface ChatCaller {
  tenantId: string;
}

/** A request ready for the router: the upstream body, and what to persist once answered. */
export interface PreparedChat {
  resolved: ResolvedModel;
  /** Body sent upstream, `model` filled per target. */
  body: ChatRequest;
  session: { id: string; userId: string | null; turns: NewTurn[]; historyTurns: number; historyTokens: number } | undefined;
}

/**
 * The chat pipeline without HTTP: resolve the model, assemble the session's history into the
 * prompt within the model's window, call the router, and write the turns back once answered.
 */
export function createChatService(deps: { config: Config; router: Router; memory: SessionMemory }) {
  const { config, router, memory } = deps;

  async function prepare(caller: ChatCaller, req: ChatRequestBody, sessionId: string | undefined): Promise<PreparedChat> {
    const resolved = router.resolve(req.model);
    const { session_id: _ignored, ...rest } = req;
    const body = rest as ChatRequest;
    if (!sessionId) return { resolved, body, session: undefined };

    if ((req.n ?? 1) > 1) throw badRequest('n > 1 cannot be used with session_id: a session stores one answer per turn.', 'n');
    const tokenizer = getTokenizer(resolved.info.encoding);
    const system: ChatMessage[] = [];
    const conversation: ChatMessage[] = [];
    for (const m of body.messages) (m.role === 'system' || m.role === 'developer' ? system : conversation).push(m);
    const turns = conversation.map((m) => toNewTurn(m, tokenizer));
    let fixed = REPLY_PRIMING_TOKENS;
    for (const m of system) fixed += tokenizer.countMessage(m);
    for (const t of turns) fixed += t.tokenCount;

    const reserved = req.max_completion_tokens ?? req.max_tokens ?? resolved.reservedCompletionTokens ?? config.session.defaultReservedCompletionTokens;
    const budget = resolved.info.contextWindow - reserved - config.session.safetyMarginTokens - fixed;
    if (budget < 0) {
      throw new GatewayError(
        `The new messages (${fixed} tokens) and the reserved completion (${reserved} tokens) exceed the ${resolved.info.contextWindow}-token window of "${resolved.alias}".`,
        { status: 400, code: 'context_length_exceeded', category: 'client', param: 'messages' },
      );
    }
    const history = fitHistory(await memory.recent(caller.tenantId, sessionId), tokenizer, budget);
    body.messages = [...system, ...history.messages, ...conversation];
    return {
      resolved,
      body,
      session: { id: sessionId, userId: req.user ?? null, turns, historyTurns: history.messages.length, historyTokens: history.tokens },
    };
  }

  /** Persists the request's turns and the answer; SQL is written before the response completes. */
  async function persist(caller: ChatCaller, prepared: PreparedChat, answer: ChatMessage): Promise<void> {
    const s = prepared.session;
    if (!s) return;
    const tokenizer = getTokenizer(prepared.resolved.info.encoding);
    await memory.append(caller.tenantId, s.id, s.userId, [...s.turns, toNewTurn(answer, tokenizer)]);
  }

  return {
    prepare,
    persist,
    complete(prepared: PreparedChat, signal: AbortSignal): Promise<Attempt<ChatCompletion>> {
      return router.run(prepared.resolved, signal, (provider, target, s) =>
        provider.complete({ body: { ...prepared.body, model: target.model }, signal: s }),
      );
    },
    stream(prepared: PreparedChat, signal: AbortSignal): Promise<Attempt<ChunkStream>> {
      return router.run(prepared.resolved, signal, (provider, target, s) =>
        provider.stream({ body: { ...prepared.body, model: target.model, stream: true }, signal: s }),
      );
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
