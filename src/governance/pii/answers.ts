import type { ChatCompletion, ChatMessage } from '../../providers/types.js';
import type { PlaceholderVault } from './placeholders.js';
import type { Redactor } from './redact.js';
import { createStreamRestorer, type StreamRestorer } from './stream-restore.js';

/**
 * Redaction at the edges of a chat request: an answer's placeholders restored for the client (whole,
 * or chunk by chunk in a stream), and a message masked before it is stored in memory.
 */

/** The completion with every choice's placeholders put back (a copy; the input is what the cache keeps). */
export function restoreCompletion(c: ChatCompletion, vault: PlaceholderVault): ChatCompletion {
  return {
    ...c,
    choices: c.choices.map((ch) => (typeof ch.message.content === 'string' ? { ...ch, message: { ...ch.message, content: vault.restore(ch.message.content) } } : ch)),
  };
}

/**
 * Restores placeholders in a stream of chat-completion chunks (their JSON texts), per choice: a
 * placeholder split across chunks is held back until it is whole, and what is held back is sent with
 * the choice's finish chunk.
 */
export function createChunkRestorer(vault: PlaceholderVault) {
  const byChoice = new Map<number, StreamRestorer>();
  return (data: string): string => {
    if (!data.includes('"choices"')) return data;
    const chunk = JSON.parse(data) as { choices?: Array<{ index: number; delta?: { content?: string | null }; finish_reason?: string | null }> };
    let changed = false;
    for (const ch of chunk.choices ?? []) {
      let r = byChoice.get(ch.index);
      if (!r) {
        r = createStreamRestorer(vault);
        byChoice.set(ch.index, r);
      }
      const content = ch.delta?.content;
      let out = typeof content === 'string' ? r.push(content) : '';
      if (ch.finish_reason) out += r.flush();
      if (typeof content === 'string' || out !== '') {
        ch.delta = { ...ch.delta, content: out };
        changed = true;
      }
    }
    return changed ? JSON.stringify(chunk) : data;
  };
}

/** The message with every configured type masked in its text (string content or text parts). */
export function maskMessage(redactor: Pick<Redactor, 'mask'>, m: ChatMessage): ChatMessage {
  if (typeof m.content === 'string') return { ...m, content: redactor.mask(m.content) };
  if (!Array.isArray(m.content)) return m;
  return { ...m, content: m.content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? { ...p, text: redactor.mask(p.text) } : p)) };
}
