import { markReplayed } from '../providers/replayed.js';
import type { ChatMessage, ContentPart, Role, ToolCall } from '../providers/types.js';
import type { Encoding } from '../tokens/models.js';
import { messageText, type Tokenizer } from '../tokens/tokenizer.js';

/** One stored turn of a session's transcript, as the short-term store and SQL both hold it. */
export interface Turn {
  seq: number;
  role: Role;
  /** The turn's text (content parts flattened), for counting, search and display. */
  content: string;
  /** What plain text cannot carry: content parts, tool calls, tool_call_id, name. */
  fields: TurnFields | null;
  tokenCount: number;
  tokenEncoding: Encoding;
  externalId: string | null;
  createdAt: string;
}

export interface TurnFields {
  parts?: ContentPart[];
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
}

/** Identity of a turn across sessions (map and set key). */
export const turnKey = (sessionId: string, seq: number): string => `${sessionId}\u0000${seq}`;

/** A turn before it has a sequence number. */
export type NewTurn = Omit<Turn, 'seq' | 'createdAt'> & { createdAt?: string | null; metadata?: Record<string, unknown> };

export function toNewTurn(m: ChatMessage, tokenizer: Tokenizer, extra: { externalId?: string | null; createdAt?: string | null } = {}): NewTurn {
  const fields: TurnFields = {};
  if (Array.isArray(m.content)) fields.parts = m.content;
  if (m.tool_calls?.length) fields.tool_calls = m.tool_calls;
  if (m.tool_call_id) fields.tool_call_id = m.tool_call_id;
  if (m.name) fields.name = m.name;
  return {
    role: m.role,
    content: messageText(m),
    fields: Object.keys(fields).length > 0 ? fields : null,
    tokenCount: tokenizer.countMessage(m),
    tokenEncoding: tokenizer.encoding,
    externalId: extra.externalId ?? null,
    createdAt: extra.createdAt ?? null,
  };
}

// Turns are never changed once stored, so a turn's message is built once and kept on the turn, under
// a symbol (which JSON leaves out of the hot store's copy): a busy session's history is replayed on
// every request, and a WeakMap lookup per turn was a tenth of assembling a 200-turn prompt.
const MESSAGE = Symbol('replayed message');
type WithMessage = Turn & { [MESSAGE]?: ChatMessage };

/**
 * The chat message a stored turn replays as, shared by every prompt that replays the turn: callers
 * must not change it (redaction and provider translation build new messages).
 */
export function replayMessage(t: Turn): ChatMessage {
  const held = t as WithMessage;
  let m = held[MESSAGE];
  if (!m) {
    m = markReplayed(toMessage(t));
    // Not enumerable: a copy of the turn made with other content (`{ ...t, content }`) must not carry it.
    Object.defineProperty(held, MESSAGE, { value: m });
  }
  return m;
}

/** The chat message a stored turn replays as (a new object). */
export function toMessage(t: Turn): ChatMessage {
  const f = t.fields;
  const m: ChatMessage = { role: t.role, content: f?.parts ?? (t.content === '' && f?.tool_calls ? null : t.content) };
  if (f?.tool_calls) m.tool_calls = f.tool_calls;
  if (f?.tool_call_id) m.tool_call_id = f.tool_call_id;
  if (f?.name) m.name = f.name;
  return m;
}

/** Tokens a turn costs under `tokenizer`: the stored count when it was made with the same encoding. */
export function turnTokens(t: Turn, tokenizer: Tokenizer): number {
  return t.tokenEncoding === tokenizer.encoding ? t.tokenCount : tokenizer.countMessage(toMessage(t));
}

/** A `messages` row as SQL returns it. */
export interface TurnRow {
  seq: number;
  role: Turn['role'];
  content: string;
  fields: Turn['fields'];
  token_count: number;
  token_encoding: Turn['tokenEncoding'];
  external_id: string | null;
  created_at: Date | string;
}

export const TURN_COLUMNS = 'seq, role, content, fields, token_count, token_encoding, external_id, created_at';

export function turnFromRow(r: TurnRow): Turn {
  return {
    seq: r.seq,
    role: r.role,
    content: r.content,
    fields: r.fields,
    tokenCount: r.token_count,
    tokenEncoding: r.token_encoding,
    externalId: r.external_id,
    createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : new Date(r.created_at).toISOString(),
  };
}

