import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest } from '../providers/types.js';

/**
 * What identifies a cached answer. The exact key is the request that reaches the upstream,
 * normalised: the model alias, every sampling field, tools and response format, the assembled
 * messages (system prompt, retrieved context, history) and the new message, plus whose memory the
 * context was drawn from. `scope` is the same without the new message: a semantic hit must match
 * it exactly, so only the wording of the last user message may differ between the question asked
 * and the one cached.
 */
export interface CacheKey {
  /** The entry's id: a UUID made from the exact key, so one request is one entry. */
  id: string;
  scope: string;
  /** The last user message as text: what the semantic cache embeds and the guard compares. */
  query: string;
  /** Whether the semantic lookup applies (the last message is text only, and not too long). */
  semantic: boolean;
}

/** Whose memories went into the context: part of the scope, so one user's answer never reaches another. */
export interface MemoryScope {
  sessionId?: string | undefined;
  userId?: string | undefined;
}

/** Fields that change how a request is delivered, not what the model answers. */
const DELIVERY_FIELDS = new Set(['model', 'messages', 'stream', 'stream_options', 'user']);

/**
 * The key of `body` (the upstream request, messages assembled), or why it cannot be cached: the
 * last message must be the user's, and no tool result may be in the conversation (a tool's
 * output changes from call to call, and the answer with it).
 */
export function cacheKey(alias: string, body: ChatRequest, memory: MemoryScope, maxSemanticChars: number): CacheKey | { skip: string } {
  const messages = body.messages;
  const last = messages.at(-1);
  if (last?.role !== 'user') return { skip: 'the last message is not a user message' };
  if (messages.some((m) => m.role === 'tool')) return { skip: 'the conversation holds tool results' };

  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!DELIVERY_FIELDS.has(k) && v !== undefined) params[k] = v;
  const h = createHash('sha256');
  h.update(canonical({ v: 1, alias, params, memory: [memory.sessionId ?? null, memory.userId ?? null], before: messages.slice(0, -1) }));
  const scope = h.copy().digest('hex');
  const text = textOf(last);
  h.update('\u0000');
  h.update(text === undefined ? canonical(last) : canonical({ ...last, content: normalizeText(text) }));
  const query = text?.trim() ?? '';
  return { id: uuidOf(h.digest()), scope, query, semantic: text !== undefined && query.length > 0 && query.length <= maxSemanticChars };
}

/** The text of a message whose content is text only (a string, or text parts joined as `messageText` joins them); undefined otherwise. */
function textOf(m: ChatMessage): string | undefined {
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) return undefined;
  let out = '';
  for (const p of m.content) {
    if (p.type !== 'text' || typeof p.text !== 'string') return undefined;
    out += p.text;
  }
  return out;
}

/** Runs of whitespace become one space, and the ends are trimmed: "Hi  there\n" is "Hi there". */
function normalizeText(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** JSON with object keys sorted, so the same request written in another key order has the same key. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** An RFC 4122 version-4-shaped UUID from the first 16 bytes of a digest (Qdrant point ids are UUIDs). */
function uuidOf(digest: Buffer): string {
  const b = Buffer.from(digest.subarray(0, 16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
