# Context gateway image: one image for the gateway (default CMD) and the workers
# (`docker run … node dist/workers/main.js`, see docker-compose.yml).
#
#   docker build -t context-gateway .
#   docker run --init -p 8080:8080 -v cgw-data:/app/data context-gateway
#
# Optional: bake a transformers.js embedding model into the image, so the container never downloads
# weights at run time (air-gapped hosts, faster cold starts):
#
#   docker build --target runtime-with-model \
#     --build-arg EMBEDDINGS_MODEL=Xenova/all-MiniLM-L6-v2 \
#     --build-arg EMBEDDINGS_MODEL_REVISION=main \
#     -t context-gateway:with-model .
#
# The default target (`runtime`, the last stage) does not contain a model and does not download one:
# with BuildKit (the default builder since Docker 23) the model stages are skipped unless selected.

# Pinned by version; pin by digest too (node:20.20.2-bookworm-slim@sha256:…) for reproducible builds.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---------------------------------------------------------------------------------------------------
# build: all dependencies (dev included), compile TypeScript to dist/, then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json .npmrc ./
RUN npm ci
# .dockerignore lets only the sources the build needs through (tsconfig*, src/, workers/).
COPY . .
RUN npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------------------
# app: the runtime, without build tools or dev dependencies, running as the unprivileged `node` user
# (uid 1000, shipped by the node image).
FROM ${NODE_IMAGE} AS app
# MALLOC_ARENA_MAX: glibc gives every thread that allocates its own malloc arena and rarely returns their
# memory; the gateway runs worker threads (embeddings, document parsing). Two arenas took ~60 MB off the
# gateway's RSS after a 200 MB document upload (BENCHMARKS.md, knowledge ingestion).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data \
    MALLOC_ARENA_MAX=2
WORKDIR /app
# Code and dependencies stay owned by root (read-only for the app user); only DATA_DIR is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The bundled embedder's ONNX translation, made once here instead of at every container's first start
# (which would cost ~0.5 s and leave ~80 MB more RSS behind; src/embeddings/README.md).
ENV EMBEDDINGS_CACHE_DIR=/app/cache
RUN node -e "import('./dist/src/embeddings/use-lite/model.js').then((m) => m.useLiteOnnxFile(process.env.EMBEDDINGS_CACHE_DIR)).then(console.log)"
# DATA_DIR holds the embedded PGlite database when DATABASE_URL is not set: mount a volume on it
# (`-v cgw-data:/app/data`), or the data lives and dies with the container.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# No curl in the slim image: probe /healthz with node's global fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Run node directly, not `npm start` (which would rebuild with tsc, a dev dependency that is pruned).
# Node is PID 1 here: run with `--init` (or `init: true` in compose) so signals and zombies are handled.
CMD ["node", "dist/src/main.js"]

# ---------------------------------------------------------------------------------------------------
# OPTIONAL — model: download a transformers.js feature-extraction model from the Hugging Face Hub into
# /models/<org>/<name>/ (the layout transformers.js expects under its local model path). Only built when
# a target that uses it is selected. To bake a model you already have instead (offline), replace the
# RUN below with `COPY models/ /models/` and put the files under ./models/<org>/<name>/ (and remove
# `models` from .dockerignore).
FROM ${NODE_IMAGE} AS model
ARG EMBEDDINGS_MODEL=Xenova/all-MiniLM-L6-v2
# A commit hash pins the weights; `main` takes whatever is current at build time.
ARG EMBEDDINGS_MODEL_REVISION=main
ARG HF_ENDPOINT=https://huggingface.co
# Files fetched, relative to the model repository; onnx/model.onnx is fp32, model_quantized.onnx is q8.
ARG EMBEDDINGS_MODEL_FILES="config.json tokenizer.json tokenizer_config.json special_tokens_map.json onnx/model.onnx onnx/model_quantized.onnx"
RUN node --input-type=module -e "\
import { mkdir, writeFile } from 'node:fs/promises';\
import { dirname } from 'node:path';\
const { EMBEDDINGS_MODEL: model, EMBEDDINGS_MODEL_REVISION: rev, HF_ENDPOINT: hub, EMBEDDINGS_MODEL_FILES: files } = process.env;\
for (const file of files.split(/\s+/).filter(Boolean)) {\
  const url = hub + '/' + model + '/resolve/' + rev + '/' + file;\
  const res = await fetch(url);\
  if (!res.ok) { console.error('GET ' + url + ' -> ' + res.status); process.exit(1); }\
  const out = '/models/' + model + '/' + file;\
  await mkdir(dirname(out), { recursive: true });\
  await writeFile(out, Buffer.from(await res.arrayBuffer()));\
  console.log(out);\
}"

# ---------------------------------------------------------------------------------------------------
# OPTIONAL — runtime-with-model: the runtime plus the baked model; EMBEDDINGS_MODEL_DIR points the
# gateway's local embedder at /models (it loads <EMBEDDINGS_MODEL_DIR>/<org>/<name>/ without network).
FROM app AS runtime-with-model
ARG EMBEDDINGS_MODEL=Xenova/all-MiniLM-L6-v2
COPY --from=model /models /models
ENV EMBEDDINGS_MODEL_DIR=/models \
    EMBEDDINGS_MODEL=${EMBEDDINGS_MODEL}

# ---------------------------------------------------------------------------------------------------
# runtime (default target): last stage, so a plain `docker build .` produces it.
FROM app AS runtime
