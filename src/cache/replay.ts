import type { ChatCompletion, Usage } from '../providers/types.js';

/** Characters per replayed content chunk, cut at a space when there is one: a stream, not one blob. */
const PIECE_CHARS = 64;

/**
 * A cached answer as the `data:` payloads of a chat-completions stream: the role chunk, content
 * chunks, the finish chunk, and a usage chunk when the request asked for one. `[DONE]` is the
 * caller's, as for a live stream.
 */
export function replayChunks(completion: ChatCompletion, usage: Usage | undefined): string[] {
  const choice = completion.choices[0];
  const base = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model };
  const chunk = (delta: Record<string, unknown>, finish: string | null): string => JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  const out = [chunk({ role: 'assistant', content: '' }, null)];
  for (const piece of pieces(choice?.message.content ?? '')) out.push(chunk({ content: piece }, null));
  out.push(chunk({}, choice?.finish_reason ?? 'stop'));
  if (usage) out.push(JSON.stringify({ ...base, choices: [], usage }));
  return out;
}

function pieces(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + PIECE_CHARS);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > i) end = space + 1;
    }
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}
