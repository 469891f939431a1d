import type { EmbedKind, Embedder, EmbedOptions } from './port.js';

export interface BatcherOptions {
  /** Texts per combined call; a pending batch that reaches it is sent at once. */
  maxBatch?: number;
  /** Calls the model runs at once (its threads); while that many are running, new calls wait for company. */
  concurrency?: number;
}

export const DEFAULT_MAX_BATCH = 64;

interface Pending {
  texts: readonly string[];
  resolve(v: Float32Array[]): void;
  reject(e: unknown): void;
}

interface Batch {
  calls: Pending[];
  size: number;
}

/**
 * Micro-batching without a wait: a call made while the model is free goes to it at once, alone; calls
 * made while it is busy gather, per kind, and go as one call as soon as the model is free again (or the
 * batch reaches `maxBatch`). A lone query costs no batching delay, and under load every call still
 * shares the model's next pass. Each caller gets its own slice back; if the combined call fails, every
 * caller in it gets the error.
 */
export function createBatchingEmbedder(inner: Embedder, opts: BatcherOptions = {}): Embedder {
  const maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const open = new Map<EmbedKind, Batch>();
  let running = 0;

  function send(kind: EmbedKind, calls: Pending[]): void {
    running++;
    const all = calls.length === 1 ? (calls[0] as Pending).texts : calls.flatMap((c) => c.texts);
    inner
      .embed(all, { kind })
      .then(
        (vectors) => {
          let at = 0;
          for (const c of calls) {
            c.resolve(vectors.slice(at, at + c.texts.length));
            at += c.texts.length;
          }
        },
        (err: unknown) => {
          for (const c of calls) c.reject(err);
        },
      )
      .finally(() => {
        running--;
        next();
      });
  }

  /** The model has room: the oldest gathered batch goes. */
  function next(): void {
    while (running < concurrency && open.size > 0) {
      const [kind, batch] = open.entries().next().value as [EmbedKind, Batch];
      open.delete(kind);
      send(kind, batch.calls);
    }
  }

  return {
    model: inner.model,
    dimensions: inner.dimensions,
    embed(texts: readonly string[], o?: EmbedOptions): Promise<Float32Array[]> {
      const kind = o?.kind ?? 'document';
      if (texts.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        const call: Pending = { texts, resolve, reject };
        if (running < concurrency && !open.has(kind)) return send(kind, [call]);
        let batch = open.get(kind);
        // A call that would overflow the gathered batch sends it (the model queues it) and starts another.
        if (batch && batch.size + texts.length > maxBatch) {
          open.delete(kind);
          send(kind, batch.calls);
          batch = undefined;
        }
        if (!batch) {
          batch = { calls: [], size: 0 };
          open.set(kind, batch);
        }
        batch.calls.push(call);
        batch.size += texts.length;
        if (batch.size >= maxBatch) {
          open.delete(kind);
          send(kind, batch.calls);
        }
      });
    },
    async close() {
      for (const [kind, batch] of [...open]) {
        open.delete(kind);
        send(kind, batch.calls);
      }
      await inner.close();
    },
  };
}
