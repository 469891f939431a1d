import { z } from 'zod';

/** The `knowledge` section of the config: document search and upload limits. */
export const knowledgeConfigSchema = z
  .strictObject({
    search: z
      .strictObject({
        /**
         * Weight of full text against vectors when hybrid results are fused (relative scores). 0.7
         * suits the offline default embedder (BENCHMARKS.md: 0.6 and 0.5 measured lower); about 0.5
         * suits a strong embedding model.
         */
        lexicalWeight: z.number().min(0).max(1).default(0.7),
        /**
         * A cross-encoder that scores the best fused chunks again (transformers.js, e.g.
         * Xenova/ms-marco-MiniLM-L-6-v2; RERANK_MODEL). Off when no model is named.
         */
        rerank: z
          .strictObject({
            /** Hub id, or a folder under modelDir. */
            model: z.string().min(1).optional(),
            /** Local model root (RERANK_MODEL_DIR): nothing is downloaded when set. */
            modelDir: z.string().min(1).optional(),
            /** Fused candidates scored per search (at least the search's top_k). */
            candidates: z.number().int().min(1).max(200).default(20),
            /** onnxruntime intra-op threads (default: its own, all cores). */
            threads: z.coerce.number().int().positive().optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Limits of one file upload; each refusal names the limit and what was sent. */
    upload: z
      .strictObject({
        maxFileBytes: z.number().int().positive().default(50 * 1024 * 1024),
        maxFiles: z.number().int().positive().default(20),
        /** Characters of text extracted from one file. */
        maxChars: z.number().int().positive().default(5_000_000),
        /** Pages of one pdf. */
        maxPages: z.number().int().positive().default(2000),
        /** Bytes a docx may inflate to (zip bombs are refused before they are unpacked). */
        maxUnzippedBytes: z.number().int().positive().default(200 * 1024 * 1024),
        /** Where uploads are streamed before they are parsed; the OS temp dir by default. */
        tmpDir: z.string().optional(),
        /** Heap of the thread that parses files: a hostile file kills the thread, not the gateway. */
        parserHeapMb: z.number().int().min(64).default(768),
      })
      .prefault({}),
  })
  .prefault({});
