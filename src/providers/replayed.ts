import type { ChatMessage } from './types.js';

/**
 * Messages that will be sent upstream again, unchanged, in later requests: a session's replayed
 * turns (memory/turns.ts replayMessage). Adapters may keep their wire form between requests
 * (openai-compatible/body.ts); a marked message must never be changed.
 */
const replayed = new WeakSet<object>();

export function markReplayed<M extends ChatMessage>(m: M): M {
  replayed.add(m);
  return m;
}

export function isReplayed(m: object): boolean {
  return replayed.has(m);
}
