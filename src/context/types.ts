import type { ChatMessage } from '../providers/types.js';
import type { Tokenizer } from '../tokens/tokenizer.js';
import type { EpisodicScope } from '../memory/episodic/search.js';
import type { Turn } from '../memory/turns.js';

/**
 * The sections of an assembled prompt, in priority order. `system` and `messages` (the request's
 * own) are always included; the others share the rest of the budget.
 */
export const SECTIONS = ['system', 'messages', 'facts', 'summary', 'recent', 'episodic', 'documents', 'older'] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Sections filled from what stages retrieve, rendered as one system message each. */
export const RETRIEVED_SECTIONS = ['facts', 'summary', 'episodic', 'documents'] as const;
export type RetrievedSection = (typeof RETRIEVED_SECTIONS)[number];

export type Shares = Readonly<Record<'facts' | 'summary' | 'recent' | 'episodic' | 'documents', number>>;

/** Where an included item came from: returned by /v1/context and as provenance on chat answers. */
export interface Provenance {
  kind: 'turn' | 'fact' | 'summary' | 'chunk';
  /** Stable id of the item: `turn:<session>:<seq>` for turns. */
  id: string;
  section: SectionName;
  session_id?: string;
  seq?: number;
  external_id?: string | null;
  created_at?: string;
  score?: number;
  /** How a retrieved item was found (lexical, vector, both, neighbour). */
  via?: string;
  /** A document chunk: where it comes from, exactly enough for a citation to point at it. */
  collection_id?: string;
  document_id?: string;
  title?: string;
  heading_path?: string[];
  page?: number | null;
  page_end?: number | null;
  char_start?: number;
  char_end?: number;
  /** The marker ([n]) the chunk carries in the prompt when the request asked for citations. */
  citation?: number;
  /** A fact: the turns it was read from. */
  source_turns?: Array<{ session_id: string; seq: number }>;
  /** A summary: its version and the turns it covers. */
  version?: number;
  from_seq?: number;
  to_seq?: number;
  tokens: number;
}

/** Something a stage offers for its section; the assembler decides what fits. */
export interface Candidate {
  section: RetrievedSection;
  /** The line this item adds to its section's message. */
  text: string;
  /** Items sharing a group are rendered under one heading line (a day, a document). */
  group?: string;
  /** Order inside the section once selected (chronological for turns). */
  order: number;
  /** Higher first; items are taken best first until the section's share is used. */
  score: number;
  provenance: Omit<Provenance, 'tokens' | 'section'>;
  /** Turn identity, so a retrieved turn already replayed as history is not included twice. */
  turnKey?: string;
  /** Rendered with a citation marker "[n] ", numbered in prompt order. */
  cite?: boolean;
}

export interface AssemblyInput {
  tokenizer: Tokenizer;
  /** Most tokens the whole prompt may take (messages + framing + reply priming). */
  budget: number;
  system: readonly ChatMessage[];
  /** The request's new messages; always included, last. */
  messages: readonly ChatMessage[];
  /** The session's recent turns, oldest first (a suffix of the transcript), with their session id. */
  history: readonly Turn[];
  sessionId: string | undefined;
  /** Per section, best first. */
  candidates: Partial<Record<RetrievedSection, readonly Candidate[]>>;
  /**
   * The session's newest summary. It is used only with every turn after it replayed, so no turn is
   * both summarised and replayed and none falls between; otherwise the prompt goes without it.
   */
  summary?: SessionSummary | undefined;
  shares: Shares;
  minRecentTurns: number;
  /** Heading line of each retrieved section's message. */
  headings: Readonly<Record<RetrievedSection, string>>;
}

export interface SessionSummary {
  version: number;
  fromSeq: number;
  toSeq: number;
  text: string;
}

export interface AssembledContext {
  messages: ChatMessage[];
  /** Tokens per section; `total` is what the prompt costs, never more than `budget`. */
  tokens: Record<SectionName, number> & { total: number; budget: number };
  /** Everything in the prompt: the retrieved items, then each replayed turn (built when first read). */
  readonly items: Provenance[];
  /** The retrieved items alone (facts, summary, memories, documents): what an answer reports. */
  retrieved: Provenance[];
  /** Turns of the session replayed as history (recent + older). */
  historyTurns: number;
  /** The seq of the first and last replayed turn (null without history). */
  historyRange: { first_seq: number | null; last_seq: number | null };
}

/** What a retrieval stage is given: the request's scope and its query, embedded at most once. */
export interface StageInput {
  tenantId: string;
  /** The request's user (its `user` field, or the session's): whose fact memories apply. */
  userId?: string | undefined;
  /** Whose memories: one session, or every session of one user (none: no memory retrieval). */
  scope: EpisodicScope | undefined;
  /** The latest user message. */
  query: string;
  /** The query's embedding, computed on first call and shared by every stage (and later the cache). */
  queryVector(): Promise<Float32Array>;
  /** Tokens the prompt has room for beyond the system prompt and new messages: how much is worth retrieving. */
  room: number;
  /** Knowledge collections to search (already within the key's access); empty: none. */
  collections: readonly string[];
  /** Document chunks carry citation markers. */
  citations: boolean;
}

/**
 * A retrieval stage: offers candidates for one section, best first; the assembler decides what fits.
 * Episodic memory is one; facts, summaries and documents are added the same way.
 */
export interface ContextStage {
  readonly section: RetrievedSection;
  gather(input: StageInput): Promise<Candidate[]>;
}
