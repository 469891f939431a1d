/**
 * Worker thread that runs Universal Sentence Encoder Lite on the TF.js WASM backend. One model per
 * thread: TF.js WASM runs single-threaded in Node, so N threads are how N cores get used.
 */
import { parentPort } from 'node:worker_threads';
import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import { normalizeInPlace } from '../port.js';
import { loadUseLite } from './model.js';
import { type EmbedRequest, USE_LITE_DIMENSIONS, type WorkerMessage } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('use-lite worker must run in a worker thread');
const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// The model's tokenizer yields no token at all for '' and the graph then throws from inside the WASM
// runtime (an uncaught exception that kills the thread) when the batch holds only such texts; ' '
// tokenises to the word-boundary symbol, so '' gets the vector of a blank.
const nonEmpty = (t: string) => (t.length === 0 ? ' ' : t);

async function embed(model: EmbeddingsModel, texts: string[]): Promise<Float32Array> {
  const rows = await model.embed(texts.map(nonEmpty));
  const out = new Float32Array(texts.length * USE_LITE_DIMENSIONS);
  rows.forEach((row, i) => {
    const v = out.subarray(i * USE_LITE_DIMENSIONS, (i + 1) * USE_LITE_DIMENSIONS);
    v.set(row);
    normalizeInPlace(v);
  });
  return out;
}

const started = performance.now();
loadUseLite().then(
  (model) => {
    // Requests are served one at a time: TF.js shares one WASM heap per thread, and the pool never
    // sends a second request before the first answers.
    let chain: Promise<void> = Promise.resolve();
    port.on('message', (req: EmbedRequest) => {
      chain = chain.then(() =>
        embed(model, req.texts).then(
          (vectors) => send({ type: 'result', id: req.id, vectors }, [vectors.buffer as ArrayBuffer]),
          (err: unknown) => send({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) }),
        ),
      );
    });
    send({ type: 'ready', loadMs: Math.round(performance.now() - started) });
  },
  (err: unknown) => send({ type: 'init-error', message: err instanceof Error ? err.message : String(err) }),
);
