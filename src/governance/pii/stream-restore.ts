/**
 * Restores placeholders in a streamed answer. Upstreams cut deltas anywhere, so `<PII_EMAIL_1>` can
 * arrive as `<PII_E` + `MAIL_1>`: each push emits what cannot be the start of a token and holds back
 * the tail that still could — never more than the longest token of the vault minus one character, so
 * the stream is delayed by at most that much text and never stalls.
 *
 * One restorer per stream of text: per choice index when n > 1, and separately for content and for
 * each tool call's arguments if those are restored too.
 */
import type { PlaceholderVault } from './placeholders.js';

export interface StreamRestorer {
  /** Restored text that is safe to send now (possibly ''). */
  push(chunk: string): string;
  /** Whatever is still held back, at the end of the stream. */
  flush(): string;
}

export function createStreamRestorer(vault: PlaceholderVault): StreamRestorer {
  let held = '';

  /** Where the tail of `buf` that may still grow into a token of the vault starts (buf.length when none). */
  const holdFrom = (buf: string): number => {
    const max = vault.maxTokenLength;
    for (let i = Math.max(0, buf.length - max + 1); i < buf.length; i++) {
      if (buf.charCodeAt(i) !== 60 /* < */) continue;
      const tail = buf.slice(i);
      for (const [token] of vault.entries()) if (token.length > tail.length && token.startsWith(tail)) return i;
    }
    return buf.length;
  };

  return {
    push(chunk) {
      if (vault.size === 0) return chunk;
      const buf = held + chunk;
      const cut = holdFrom(buf);
      held = buf.slice(cut);
      return vault.restore(buf.slice(0, cut));
    },
    flush() {
      const rest = held;
      held = '';
      return vault.restore(rest);
    },
  };
}
