import { isReplayed } from '../replayed.js';
import type { ChatRequest } from '../types.js';

/**
 * The upstream body of a chat request, as UTF-8 bytes, built so that a session's history costs
 * little on every request.
 *
 * A session's replayed turns are the same message objects from one request to the next
 * (providers/replayed.ts). Their JSON is kept in runs: the bytes of consecutive replayed messages,
 * joined by commas, with where each one ends. The next request of the session replays the same turns
 * less the oldest ones the window dropped, plus the last exchange: it finds the run by its first
 * replayed message, takes the run's bytes for as long as its messages are the run's, and appends the
 * new turns to the run in place. A 200-turn history then costs one lookup, 200 pointer comparisons
 * and one copy of its bytes, instead of serialising, joining and encoding 200 messages.
 */
export function chatBody(body: ChatRequest): Buffer {
  const { messages, ...rest } = body;
  const parts: Buffer[] = [];
  let text = '{"messages":[';
  let first = true;
  let i = 0;
  while (i < messages.length) {
    const m = messages[i] as object;
    const place = placeOf.get(m);
    if (!place && !isReplayed(m)) {
      text += first ? JSON.stringify(m) : `,${JSON.stringify(m)}`;
      first = false;
      i++;
      continue;
    }
    const run = place ? place.run : new Run();
    const from = place ? place.index : 0;
    let k = from;
    let j = i;
    while (j < messages.length && k < run.messages.length && run.messages[k] === messages[j]) {
      j++;
      k++;
    }
    // At the run's end, the replayed messages that follow join it.
    while (k === run.messages.length && j < messages.length && isReplayed(messages[j] as object)) {
      run.append(messages[j] as object);
      j++;
      k++;
    }
    parts.push(Buffer.from(first ? text : `${text},`), run.slice(from, k));
    text = '';
    first = false;
    i = j;
    run.compactFrom(from);
  }
  const fields = JSON.stringify(rest);
  parts.push(Buffer.from(fields === '{}' ? `${text}]}` : `${text}],${fields.slice(1)}`));
  return Buffer.concat(parts);
}

/** Where a replayed message's JSON is kept: its run, and its index there. */
const placeOf = new WeakMap<object, { run: Run; index: number }>();

/** Consecutive replayed messages' JSON, joined by commas, in a buffer that grows by doubling. */
class Run {
  readonly messages: object[] = [];
  /** Where message k's JSON ends; it starts one byte (the comma) after message k − 1's end. */
  readonly ends: number[] = [];
  private bytes = Buffer.allocUnsafe(4096);
  /** Messages before this index have left every window: their bytes are dropped at the next compaction. */
  private live = 0;
  /** Compacted: its live messages are kept by another run now. */
  private retired = false;

  append(m: object): void {
    const json = JSON.stringify(m);
    const start = this.ends.length === 0 ? 0 : (this.ends[this.ends.length - 1] as number) + 1;
    const need = start + Buffer.byteLength(json);
    if (need > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, start);
      this.bytes = grown;
    }
    if (start > 0) this.bytes[start - 1] = 44; // ','
    this.bytes.write(json, start);
    placeOf.set(m, { run: this, index: this.messages.length });
    this.messages.push(m);
    this.ends.push(need);
  }

  /** The JSON of messages [from, to), joined by commas (a view, not a copy). */
  slice(from: number, to: number): Buffer {
    const start = from === 0 ? 0 : (this.ends[from - 1] as number) + 1;
    return this.bytes.subarray(start, this.ends[to - 1]);
  }

  /**
   * A window that slides leaves its oldest messages behind: once they hold more than half the run, the
   * messages from `from` on move to a new run (their bytes copied once), and this one is left to GC.
   */
  compactFrom(from: number): void {
    this.live = Math.max(this.live, from);
    if (this.retired || this.live < 64 || this.live * 2 < this.messages.length) return;
    this.retired = true;
    const next = new Run();
    const start = (this.ends[this.live - 1] as number) + 1;
    const used = (this.ends[this.ends.length - 1] as number) - start;
    next.bytes = Buffer.allocUnsafe(Math.max(4096, used * 2));
    this.bytes.copy(next.bytes, 0, start, start + used);
    for (let k = this.live; k < this.messages.length; k++) {
      const m = this.messages[k] as object;
      placeOf.set(m, { run: next, index: next.messages.length });
      next.messages.push(m);
      next.ends.push((this.ends[k] as number) - start);
    }
  }
}
