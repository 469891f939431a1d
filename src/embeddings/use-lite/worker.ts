/**
 * Worker thread that runs Universal Sentence Encoder Lite on onnxruntime. One model per thread, with
 * one intra-op thread each: N threads are how N cores get used, and `session.run` (one synchronous
 * native call) never holds the gateway's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { normalizeInPlace } from '../port.js';
import { loadUseLite, type UseLite } from './model.js';
import { type EmbedRequest, USE_LITE_DIMENSIONS, type WorkerInit, type WorkerMessage } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('use-lite worker must run in a worker thread');
const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

// The model's tokenizer yields no token at all for '', and the graph cannot take a batch with no token;
// ' ' tokenises to the word-boundary symbol, so '' gets the vector of a blank.
const nonEmpty = (t: string) => (t.length === 0 ? ' ' : t);

async function embed(model: UseLite, texts: string[]): Promise<Float32Array> {
  const out = await model.embed(texts.map(nonEmpty));
  for (let o = 0; o < out.length; o += USE_LITE_DIMENSIONS) normalizeInPlace(out.subarray(o, o + USE_LITE_DIMENSIONS));
  return out;
}

const started = performance.now();
loadUseLite({ cacheDir: (workerData as WorkerInit | undefined)?.cacheDir }).then(
  (model) => {
    // Requests are served one at a time: the pool never sends a second request before the first answers.
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
