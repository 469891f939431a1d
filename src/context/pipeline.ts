import type { Config } from '../config/schema.js';
import { type Logger, throttledWarn } from '../observability/logger.js';
import type { Embedder } from '../embeddings/port.js';
import { asGatewayError, badRequest, forbidden, GatewayError } from '../errors.js';
import type { EpisodicScope } from '../memory/episodic/search.js';
import type { SessionMemory } from '../memory/session-memory.js';
import { type Turn, turnTokens } from '../memory/turns.js';
import type { ResolvedModel } from '../providers/router/router.js';
import type { ChatMessage } from '../providers/types.js';
import { getTokenizer, messageText, REPLY_PRIMING_TOKENS } from '../tokens/tokenizer.js';
import { assembleContext } from './assemble.js';
import type { KnowledgeScope } from '../knowledge/scope.js';
import type { AssembledContext, Candidate, ContextStage, RetrievedSection, SessionSummary, Shares } from './types.js';
import { createTtlMemo } from '../memo.js';
import { inSpan, setSpanAttributes } from '../observability/tracing.js';

/** What a request may say about its context (the `context` body field). */
export interface ContextOptions {
  /** Most tokens the assembled prompt may take; never more than the model's window allows. */
  budget?: number;
  /** 'user': retrieve from every session of the request's `user` (the key needs `memory:user`). */
  scope?: 'session' | 'user';
  /** Retrieve older turns by relevance (default on when the deployment enables it). */
  episodic?: boolean;
  shares?: Partial<Shares>;
  /** Draw on knowledge documents (default on when the tenant has any the key may see). */
  documents?: boolean;
  /** Only these knowledge collections (default: every one the key may see). */
  collections?: string[];
  /** Number the document excerpts ([1], [2]…) and ask the model to cite them. */
  citations?: boolean;
  /** Draw on the user's fact memories (default on for requests with a `user`). */
  facts?: boolean;
}

export interface ContextRequest {
  tenantId: string;
  /** The key's scopes; empty means unrestricted. */
  scopes: readonly string[];
  resolved: ResolvedModel;
  messages: readonly ChatMessage[];
  sessionId: string | undefined;
  userId: string | undefined;
  reservedCompletionTokens: number;
  options: ContextOptions | undefined;
  /** The last user message's embedding, shared with the caller (the semantic cache); computed here when absent. */
  queryVector?: () => Promise<Float32Array>;
}

export interface BuiltContext extends AssembledContext {
  /**
   * Whether memory retrieval ran and why; `documents`, the same for knowledge documents;
   * `degraded` names the sections whose retrieval failed.
   */
  retrieval: { ran: boolean; reason: string; documents: { ran: boolean; reason: string; collections: number; ids: string[] }; degraded?: RetrievedSection[] };
}

const HEADINGS: Readonly<Record<RetrievedSection, string>> = {
  facts: 'Known facts about the user:',
  summary: 'Summary of the conversation so far:',
  episodic: 'Earlier in the conversation (retrieved as relevant to the latest message; oldest first, under the day it was said):',
  documents: 'Excerpts from documents (retrieved as relevant to the latest message; under each document, its section and page in parentheses):',
};

const CITING_HEADINGS: Readonly<Record<RetrievedSection, string>> = {
  ...HEADINGS,
  documents:
    'Excerpts from documents, each with a marker like [1] (retrieved as relevant to the latest message; under each document, its section and page in parentheses). When you use an excerpt, cite its marker right after the claim, e.g. "…in 30 days [2]."',
};

export const MEMORY_USER_SCOPE = 'memory:user';

const SUMMARY_TTL_MS = 5_000;

/** The trace span of each retrieval stage. */
const STAGE_SPANS: Readonly<Record<RetrievedSection, string>> = {
  episodic: 'context.stage.episodic',
  documents: 'context.stage.documents',
  facts: 'context.stage.facts',
  summary: 'context.stage.summary',
};

/**
 * The context pipeline up to the budget: history from the session's memory, the retrieval stages
 * (episodic now; facts, summary and documents are added as stages), then the pure `assembleContext`. The chat
 * path and POST /v1/context share it, so what /v1/context shows is what the model is sent.
 */
export function createContextPipeline(deps: {
  config: Config;
  memory: SessionMemory;
  embedder: Embedder;
  stages: readonly ContextStage[];
  knowledge: KnowledgeScope;
  /** Session summaries (absent when summaries are off). */
  summaries?: { newest(tenantId: string, sessionId: string): Promise<SessionSummary | undefined> } | undefined;
  log: Logger;
}) {
  const { config, memory, embedder, stages } = deps;
  // A summary changes at most every few thousand tokens of conversation; a slightly old one is still
  // consistent (the turns after it are replayed), so it is read from SQL at most every few seconds.
  const summaryMemo = createTtlMemo<SessionSummary | undefined>(SUMMARY_TTL_MS);
  const failed = throttledWarn(deps.log, 'retrieval failed; answering without it');
  const warn = (section: string, err: GatewayError): void => failed({ section, code: err.code, err: err.message });

  async function build(req: ContextRequest): Promise<BuiltContext> {
    const { resolved } = req;
    const tokenizer = getTokenizer(resolved.info.encoding);
    const system: ChatMessage[] = [];
    const conversation: ChatMessage[] = [];
    for (const m of req.messages) (m.role === 'system' || m.role === 'developer' ? system : conversation).push(m);

    const windowBudget = resolved.info.contextWindow - req.reservedCompletionTokens - config.session.safetyMarginTokens;
    let fixed = REPLY_PRIMING_TOKENS;
    for (const m of req.messages) fixed += tokenizer.countMessage(m);
    if (fixed > windowBudget) {
      throw new GatewayError(
        `The new messages (${fixed} tokens) and the reserved completion (${req.reservedCompletionTokens} tokens) exceed the ${resolved.info.contextWindow}-token window of "${resolved.alias}".`,
        { status: 400, code: 'context_length_exceeded', category: 'client', param: 'messages' },
      );
    }
    const budget = Math.min(req.options?.budget ?? windowBudget, windowBudget);
    if (fixed > budget) {
      throw badRequest(`context.budget (${budget} tokens) is smaller than the request's own messages (${fixed} tokens), which are always sent.`, 'context.budget', 'context_budget_too_small');
    }
    const scope = episodicScope(req);
    const sessionId = req.sessionId;
    const history: Turn[] = sessionId ? await inSpan('context.history', undefined, () => memory.recent(req.tenantId, sessionId)) : [];
    const summary = req.sessionId ? await newestSummary(req.tenantId, req.sessionId, history) : undefined;

    const candidates: Partial<Record<RetrievedSection, Candidate[]>> = {};
    const degraded: RetrievedSection[] = [];
    const query = lastUserText(conversation);
    const retrieval = whyRetrieve(req, scope, history, budget - fixed, tokenizer);
    const documents = await whichDocuments(req, query);
    const facts = req.userId !== undefined && req.options?.facts !== false;
    const running = stages.filter((s) => (s.section === 'documents' ? documents.ran : s.section === 'facts' ? facts : retrieval.ran));
    if (running.length > 0) {
      let vector: Promise<Float32Array> | undefined;
      const queryVector =
        req.queryVector ??
        (() => {
          vector ??= embedder.embed([query], { kind: 'query' }).then(([v]) => v as Float32Array);
          return vector;
        });
      const input = { tenantId: req.tenantId, userId: req.userId, scope, query, queryVector, room: budget - fixed, collections: documents.ids, citations: req.options?.citations === true };
      const found = await Promise.allSettled(
        running.map((stage) =>
          inSpan(STAGE_SPANS[stage.section], undefined, async (span) => {
            const got = await stage.gather(input);
            setSpanAttributes(span, { 'context.candidates': got.length });
            return got;
          }),
        ),
      );
      running.forEach((stage, i) => {
        const r = found[i] as PromiseSettledResult<Candidate[]>;
        if (r.status === 'fulfilled') {
          candidates[stage.section] = [...(candidates[stage.section] ?? []), ...r.value];
          return;
        }
        // A failing store or model degrades the prompt (recent turns still go), never the request.
        const err = asGatewayError(r.reason);
        degraded.push(stage.section);
        warn(stage.section, err);
      });
    }

    const assembled = assembleContext({
      tokenizer,
      budget,
      system,
      messages: conversation,
      history,
      sessionId: req.sessionId,
      candidates,
      summary,
      shares: { ...config.context.shares, ...req.options?.shares },
      minRecentTurns: config.context.minRecentTurns,
      headings: req.options?.citations ? CITING_HEADINGS : HEADINGS,
    });
    const report = { ...retrieval, documents: { ran: documents.ran, reason: documents.reason, collections: documents.ids.length, ids: documents.ran ? documents.ids : [] } };
    // Assigned, not spread: spreading would read `items` and build the turn list it defers.
    return Object.assign(assembled, { retrieval: degraded.length > 0 ? { ...report, degraded } : report });
  }

  /**
   * The session's newest summary, when it may have one: a session whose whole transcript is in
   * `history` and shorter than the summary trigger has none, so most requests skip the lookup.
   * A failing lookup degrades to no summary (the turns after it are replayed as usual).
   */
  async function newestSummary(tenantId: string, sessionId: string, history: readonly Turn[]): Promise<SessionSummary | undefined> {
    const store = deps.summaries;
    const first = history[0];
    if (!store || !first) return undefined;
    if (first.seq === 1) {
      let tokens = 0;
      for (const t of history) tokens += t.tokenCount;
      if (tokens < config.memory.summary.triggerTokens) return undefined;
    }
    return inSpan('context.summary', undefined, async (span) => {
      const found = await summaryMemo.get(`${tenantId}\u0000${sessionId}`, () => store.newest(tenantId, sessionId));
      setSpanAttributes(span, { 'context.summary.found': found !== undefined });
      return found;
    }).catch((err: unknown) => {
      warn('summary', asGatewayError(err));
      return undefined;
    });
  }

  /** The knowledge collections this request draws on, and why (or why not). */
  async function whichDocuments(req: ContextRequest, query: string): Promise<{ ran: boolean; reason: string; ids: string[] }> {
    if (!stages.some((s) => s.section === 'documents')) return { ran: false, reason: 'no documents stage is enabled', ids: [] };
    if (req.options?.documents === false) return { ran: false, reason: 'the request turned documents off', ids: [] };
    // Named collections are checked (404 for one the key cannot see) even when there is nothing to search with.
    const ids = await deps.knowledge.resolve(req.tenantId, req.scopes, req.options?.collections);
    if (ids.length === 0) return { ran: false, reason: req.options?.collections ? 'no collection named' : 'no collection with documents', ids };
    if (!query) return { ran: false, reason: 'no user message to search with', ids: [] };
    return { ran: true, reason: req.options?.collections ? 'the request named collections' : 'the tenant has documents', ids };
  }

  function episodicScope(req: ContextRequest): EpisodicScope | undefined {
    if (req.options?.scope === 'user') {
      if (!req.userId) throw badRequest('context.scope "user" needs the request\'s `user` field.', 'context.scope');
      if (req.scopes.length > 0 && !req.scopes.includes(MEMORY_USER_SCOPE)) {
        throw forbidden(`This key may not read memories across sessions (scope "${MEMORY_USER_SCOPE}").`, 'scope_not_allowed');
      }
      return { tenantId: req.tenantId, userId: req.userId };
    }
    return req.sessionId ? { tenantId: req.tenantId, sessionId: req.sessionId } : undefined;
  }

  /** Retrieval runs only when it can add something: older turns exist that the budget cannot replay whole. */
  function whyRetrieve(req: ContextRequest, scope: EpisodicScope | undefined, history: readonly Turn[], room: number, tokenizer: ReturnType<typeof getTokenizer>): { ran: boolean; reason: string } {
    if (!stages.some((s) => s.section === 'episodic')) return { ran: false, reason: 'episodic memory is not enabled' };
    if (req.options?.episodic === false) return { ran: false, reason: 'the request turned episodic retrieval off' };
    if (!scope) return { ran: false, reason: 'no session_id or user scope' };
    if (!lastUserText(req.messages)) return { ran: false, reason: 'no user message to search with' };
    if (scope.sessionId !== undefined && (history.length === 0 || (history[0] as Turn).seq === 1)) {
      let total = 0;
      for (const t of history) total += turnTokens(t, tokenizer);
      if (total <= room) return { ran: false, reason: 'the whole session fits in the budget' };
    }
    return { ran: true, reason: 'older turns exceed the budget' };
  }

  /** `build` under a `context.assemble` trace span (the stages' spans are its children): sizes and outcomes, never text. */
  function traced(req: ContextRequest): Promise<BuiltContext> {
    return inSpan('context.assemble', { 'context.session': req.sessionId !== undefined, 'context.user': req.userId !== undefined }, async (span) => {
      const built = await build(req);
      setSpanAttributes(span, {
        'context.tokens': built.tokens.total,
        'context.budget': built.tokens.budget,
        'context.history_turns': built.historyTurns,
        'context.items': built.retrieved.length + built.historyTurns,
        'context.retrieval': built.retrieval.ran,
        'context.documents': built.retrieval.documents.ran,
        'context.degraded': built.retrieval.degraded?.join(','),
      });
      return built;
    });
  }

  return { build: traced };
}

/** The text of the last user message, trimmed: what retrieval searches with and the semantic cache embeds. */
export function lastUserText(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ChatMessage;
    if (m.role === 'user') return messageText(m).trim();
  }
  return '';
}

export type ContextPipeline = ReturnType<typeof createContextPipeline>;

/** A source the answer may cite: the marker the model saw and where the excerpt comes from. */
export interface Citation {
  marker: number;
  chunk_id: string;
  collection_id: string;
  document_id: string;
  title: string;
  heading_path: string[];
  page: number | null;
  page_end: number | null;
  char_start: number;
  char_end: number;
}

/** The numbered sources of a context assembled with `citations: true`, in marker order. */
export function citationsOf(context: AssembledContext): Citation[] {
  const out: Citation[] = [];
  for (const i of context.retrieved) {
    if (i.citation === undefined) continue;
    out.push({
      marker: i.citation,
      chunk_id: i.id.slice('chunk:'.length),
      collection_id: i.collection_id ?? '',
      document_id: i.document_id ?? '',
      title: i.title ?? '',
      heading_path: i.heading_path ?? [],
      page: i.page ?? null,
      page_end: i.page_end ?? null,
      char_start: i.char_start ?? 0,
      char_end: i.char_end ?? 0,
    });
  }
  return out.sort((a, b) => a.marker - b.marker);
}
