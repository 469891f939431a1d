/** Messages between the USE-lite pool (main thread) and its worker threads. */

export const USE_LITE_DIMENSIONS = 512;

/** What a worker is started with (its `workerData`). */
export interface WorkerInit {
  /** Where the model's ONNX translation is cached (default: the OS's temporary directory). */
  cacheDir?: string | undefined;
}

/** Main → worker: embed these texts. */
export interface EmbedRequest {
  id: number;
  texts: string[];
}

/** Worker → main. Vectors travel as one transferred buffer of `count × 512` floats (no copy, no JSON). */
export type WorkerMessage =
  | { type: 'ready'; loadMs: number }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; vectors: Float32Array }
  | { type: 'error'; id: number; message: string };
