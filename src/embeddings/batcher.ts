import type { EmbedKind, Embedder, EmbedOptions } from './port.js';

export interface BatcherOptions {
  /** Longest a call waits for company. A few ms is noise next to one embedding (10+ ms) and lets concurrent requests share a call. */
  maxWaitMs?: number;
  /** Texts per combined call; a pending batch that reaches it is sent at once. */
  maxBatch?: number;
}

export const DEFAULT_MAX_WAIT_MS = 2;
export const DEFAULT_MAX_BATCH = 64;

interface Pending {
  texts: readonly string[];
  resolve(v: Float32Array[]): void;
  reject(e: unknown): void;
}

interface Batch {
  calls: Pending[];
  size: number;
  timer: NodeJS.Timeout;
}

/**
 * Micro-batching: concurrent `embed` calls of the same kind made within `maxWaitMs` become one call
 * to `inner`, and each caller gets its own slice back. A call already as large as `maxBatch` goes
 * straight through. If the combined call fails, every caller in it gets the error.
 */
export function createBatchingEmbedder(inner: Embedder, opts: BatcherOptions = {}): Embedder {
  const maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_MAX_BATCH);
  const open = new Map<EmbedKind, Batch>();

  function flush(kind: EmbedKind) {
    const batch = open.get(kind);
    if (!batch) return;
    open.delete(kind);
    clearTimeout(batch.timer);
    const all = batch.calls.flatMap((c) => c.texts);
    inner.embed(all, { kind }).then(
      (vectors) => {
        let at = 0;
        for (const c of batch.calls) {
          c.resolve(vectors.slice(at, at + c.texts.length));
          at += c.texts.length;
        }
      },
      (err: unknown) => {
        for (const c of batch.calls) c.reject(err);
      },
    );
  }

  return {
    model: inner.model,
    dimensions: inner.dimensions,
    embed(texts: readonly string[], o?: EmbedOptions): Promise<Float32Array[]> {
      const kind = o?.kind ?? 'document';
      if (texts.length === 0) return Promise.resolve([]);
      if (texts.length >= maxBatch) return inner.embed(texts, { kind });
      return new Promise((resolve, reject) => {
        let batch = open.get(kind);
        if (batch && batch.size + texts.length > maxBatch) {
          flush(kind);
          batch = undefined;
        }
        if (!batch) {
          batch = { calls: [], size: 0, timer: setTimeout(() => flush(kind), maxWaitMs) };
          open.set(kind, batch);
        }
        batch.calls.push({ texts, resolve, reject });
        batch.size += texts.length;
        if (batch.size >= maxBatch) flush(kind);
      });
    },
    async close() {
      for (const kind of [...open.keys()]) flush(kind);
      await inner.close();
    },
  };
}
