import type { Worker } from 'node:worker_threads';
import { startScriptWorker } from '../../jobs/threads.js';
import type { ModelInit, ModelMessage, ModelRequest } from './protocol.js';

/** The loaded model on its worker thread. */
export interface ModelThread {
  /** Rejects with the thread's death if it dies first (or already died). */
  embed(texts: string[]): Promise<Float32Array[]>;
  /** A cross-encoder's score for each (query, text) pair (a thread started with task 'rerank'). */
  rerank(query: string, texts: string[]): Promise<Float32Array>;
  /** Lets the embeds already sent finish, disposes the model and ends the thread. */
  close(): Promise<void>;
  /** Why the thread can no longer embed (it died or was closed); undefined while it can. */
  readonly dead: Error | undefined;
}

interface Pending {
  resolve(vectors: Float32Array[]): void;
  reject(err: Error): void;
}

/** The error the adapter has always thrown for a model that cannot be loaded: which model, and where it looked. */
export function loadError(init: ModelInit, message: string, cause?: Error): Error {
  const [what, dirVar] = init.task === 'rerank' ? ['reranking', 'RERANK_MODEL_DIR'] : ['embedding', 'EMBEDDINGS_MODEL_DIR'];
  const where = init.modelDir
    ? `from ${init.modelDir}/${init.model} (${dirVar}; it needs onnx/model.onnx, config.json, tokenizer.json, tokenizer_config.json)`
    : `from the Hugging Face hub (set ${dirVar} where there is no internet)`;
  return new Error(`Could not load the ${what} model "${init.model}" ${where}: ${message}`, { cause });
}

/** Starts a worker thread and resolves once it has loaded the model; rejects with `loadError` if it cannot. */
export function startModelThread(init: ModelInit): Promise<ModelThread> {
  const worker: Worker = startScriptWorker(import.meta.url, 'worker', { workerData: init });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | undefined;
  let crash: Error | undefined;
  let loaded = false;
  let disposed: (() => void) | undefined;
  // The thread keeps the process alive only while something awaits it (the load, an embed, close): a
  // script that is done must be able to exit with an idle embedder still open.
  const settle = () => {
    if (pending.size === 0 && !disposed) worker.unref();
  };

  const send = (request: (id: number) => ModelRequest): Promise<Float32Array[]> => {
    if (dead) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(request(id));
    });
  };

  const thread: ModelThread = {
    get dead() {
      return dead;
    },
    embed(texts) {
      return send((id) => ({ type: 'embed', id, texts }));
    },
    async rerank(query, texts) {
      const [scores] = await send((id) => ({ type: 'rerank', id, query, texts }));
      return scores as Float32Array;
    },
    async close() {
      if (dead) return;
      dead = new Error(`The transformers.js embedder for "${init.model}" is closed.`);
      worker.ref();
      // Resolved by 'disposed', or by the thread's exit if it dies first.
      await new Promise<void>((resolve) => {
        disposed = resolve;
        worker.postMessage({ type: 'dispose' } satisfies ModelRequest);
      });
      await worker.terminate();
    },
  };

  return new Promise((resolveLoad, rejectLoad) => {
    worker.on('message', (m: ModelMessage) => {
      if (m.type === 'ready') {
        loaded = true;
        settle();
        return resolveLoad(thread);
      }
      if (m.type === 'load-error') {
        loaded = true;
        const cause = Object.assign(new Error(m.message), m.stack ? { stack: m.stack } : {});
        rejectLoad(loadError(init, m.message, cause));
        dead = cause;
        void worker.terminate();
        return;
      }
      if (m.type === 'disposed') return disposed?.();
      const job = pending.get(m.id);
      pending.delete(m.id);
      settle();
      if (m.type === 'result') job?.resolve(m.vectors);
      else job?.reject(new Error(`transformers.js could not ${init.task === 'rerank' ? 'score' : 'embed'} the texts: ${m.message}`));
    });
    worker.on('error', (err) => {
      crash = err;
    });
    worker.on('exit', (code) => {
      const why = `The transformers.js worker thread for "${init.model}" stopped (exit code ${code}${crash ? `: ${crash.message}` : ''})`;
      if (!loaded) rejectLoad(loadError(init, why, crash));
      if (!dead) dead = new Error(`${why}; the next embed starts a new one.`, { cause: crash });
      for (const job of pending.values()) job.reject(dead);
      pending.clear();
      disposed?.();
    });
  });
}

/** A model thread started again after it dies (see startRestartingModelThread). */
export interface RestartingModelThread {
  /** The running thread; if the last one died, a new one (one start, shared by concurrent callers). */
  live(): Promise<ModelThread>;
  /** Closes the current thread (after a restart in progress, if any). */
  close(): Promise<void>;
}

/**
 * Starts the model thread and keeps one running: a thread that dies (a crash, out of memory) fails the
 * requests it held, and the next `live()` starts a new one. A failed restart is not kept, so the call
 * after it tries again.
 */
export async function startRestartingModelThread(init: ModelInit): Promise<RestartingModelThread> {
  let thread = await startModelThread(init);
  let restarting: Promise<ModelThread> | undefined;
  return {
    async live() {
      if (!thread.dead) return thread;
      restarting ??= startModelThread(init).finally(() => {
        restarting = undefined;
      });
      thread = await restarting;
      return thread;
    },
    async close() {
      await (restarting ? await restarting.catch(() => thread) : thread).close();
    },
  };
}
