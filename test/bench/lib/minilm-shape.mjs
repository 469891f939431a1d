#!/usr/bin/env node
/**
 * A model folder with all-MiniLM-L6-v2's exact shape and RANDOM weights: for measuring speed only, never
 * quality. Its vectors mean nothing, but inference costs the same as the real model's, because cost depends
 * on the graph (ops, tensor sizes, sequence lengths), not on the values in it. Lets the transformers adapter
 * (EMBEDDINGS_KIND=transformers) be benchmarked here, where nothing can be downloaded.
 *
 *   node test/bench/lib/minilm-shape.mjs            # builds (once) and prints EMBEDDINGS_MODEL_DIR / EMBEDDINGS_MODEL
 *   import { ensureMiniLmShape } from './lib/minilm-shape.mjs'; const { dir, name } = await ensureMiniLmShape();
 *
 * The graph is the pattern torch.onnx (through optimum, which made the Xenova conversions) exports for a
 * BertModel with eager attention, here at opset 14: decomposed LayerNorm and erf GELU (onnxruntime fuses them
 * at load into LayerNormalization and BiasGelu), reshapes whose shapes are computed from Shape ops, the
 * additive attention mask (1 - mask) · float min.
 * Weights are uniform with BERT's init std 0.02 (LayerNorm gains ~1), so activations stay in range.
 * The tokenizer is a 30,522-entry WordPiece vocabulary with BERT's special ids and proportions (~5,800 "##"
 * continuations, the rest characters and whole words), its English taken from cl100k_base's ranks (js-tiktoken,
 * a dependency) most frequent first, so ordinary text splits into about as many tokens as with BERT's.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const { FLOAT, INT64 } = onnx.TensorProto.DataType;
const { INT, INTS } = onnx.AttributeProto.AttributeType;

/** all-MiniLM-L6-v2's config (sentence-transformers/all-MiniLM-L6-v2, config.json). */
export const MINILM_SHAPE = Object.freeze({
  vocab: 30522,
  hidden: 384,
  layers: 6,
  heads: 12,
  intermediate: 1536,
  maxPositions: 512,
  typeVocab: 2,
  layerNormEps: 1e-12,
});
/** Bump when the generated files change: it keys the cache folder. */
export const MINILM_SHAPE_VERSION = 'minilm-shape-v1';
export const MINILM_SHAPE_LABEL = 'MiniLM-L6 shape, random weights (speed only)';
const INIT_STD = 0.02; // BERT's initializer_range

/** mulberry32: a seeded generator, so every build writes the same bytes. */
function generator(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Collects nodes and initializers; every op returns the name of its (single) output. */
function graphBuilder(random) {
  const node = [];
  const initializer = [];
  let n = 0;
  const attribute = (attrs) => Object.entries(attrs).map(([name, v]) => (Array.isArray(v) ? { name, type: INTS, ints: v } : { name, type: INT, i: v }));
  const op = (opType, input, attrs = {}, out = `${opType}_${n++}`) => {
    node.push({ opType, input, output: [out], name: out, attribute: attribute(attrs) });
    return out;
  };
  const tensor = (name, dataType, dims, array) => {
    initializer.push({ name, dataType, dims, rawData: Buffer.from(array.buffer, array.byteOffset, array.byteLength) });
    return name;
  };
  const floats = (name, values, dims = []) => tensor(name, FLOAT, dims, Float32Array.from(values));
  const int64s = (name, values, dims = [values.length]) => tensor(name, INT64, dims, BigInt64Array.from(values, BigInt));
  /** Uniform in ±std·√3 (std `std`) around `mean`. */
  const weights = (name, dims, std = INIT_STD, mean = 0) => {
    const a = new Float32Array(dims.reduce((x, y) => x * y, 1));
    const half = std * Math.sqrt(3);
    for (let i = 0; i < a.length; i++) a[i] = mean + (random() * 2 - 1) * half;
    return tensor(name, FLOAT, dims, a);
  };
  return { node, initializer, op, floats, int64s, weights };
}

function modelBytes() {
  const { vocab, hidden, layers, heads, intermediate, maxPositions, typeVocab, layerNormEps } = MINILM_SHAPE;
  const headSize = hidden / heads;
  const g = graphBuilder(generator(20240521));
  const { op } = g;
  const c = {
    idx0: g.int64s('idx0', [0], []),
    idx1: g.int64s('idx1', [1], []),
    zero: g.int64s('zero', [0]),
    axes0: g.int64s('axes0', [0]),
    axes1: g.int64s('axes1', [1]),
    axes2: g.int64s('axes2', [2]),
    heads: g.int64s('num_heads', [heads]),
    headSize: g.int64s('head_size', [headSize]),
    hidden: g.int64s('all_head_size', [hidden]),
    one: g.floats('one', [1]),
    two: g.floats('two', [2]),
    half: g.floats('half', [0.5]),
    sqrt2: g.floats('sqrt2', [Math.SQRT2]),
    eps: g.floats('layer_norm_eps', [layerNormEps]),
    scale: g.floats('attention_scale', [Math.sqrt(headSize)]),
    floatMin: g.floats('float_min', [-3.4028234663852886e38]),
  };

  const layerNorm = (x, prefix, out) => {
    const mean = op('ReduceMean', [x], { axes: [-1] });
    const d = op('Sub', [x, mean]);
    const variance = op('ReduceMean', [op('Pow', [d, c.two])], { axes: [-1] });
    const normed = op('Div', [d, op('Sqrt', [op('Add', [variance, c.eps])])]);
    const gamma = g.weights(`${prefix}.LayerNorm.weight`, [hidden], 0.02, 1);
    const beta = g.weights(`${prefix}.LayerNorm.bias`, [hidden]);
    return op('Add', [op('Mul', [normed, gamma]), beta], {}, out);
  };
  const linear = (x, prefix, inDim, outDim) => {
    const w = g.weights(`${prefix}.weight_t`, [inDim, outDim]);
    // Biases are random too (BERT starts them at 0), so no optimizer could treat an Add as a no-op.
    return op('Add', [g.weights(`${prefix}.bias`, [outDim]), op('MatMul', [x, w])]);
  };
  /** [batch, seq] of x's shape + `tail`, computed at run time as the torch export does. */
  const leadingDims = (x, ...tail) => {
    const shape = op('Shape', [x]);
    const dims = [c.idx0, c.idx1].map((i) => op('Unsqueeze', [op('Gather', [shape, i], { axis: 0 }), c.axes0]));
    return op('Concat', [...dims, ...tail], { axis: 0 });
  };
  const splitHeads = (x, perm) => op('Transpose', [op('Reshape', [x, leadingDims(x, c.heads, c.headSize)])], { perm });

  // Embeddings: words + token types + positions (a slice of the position_ids buffer), then LayerNorm.
  const words = op('Gather', [g.weights('embeddings.word_embeddings.weight', [vocab, hidden]), 'input_ids']);
  const types = op('Gather', [g.weights('embeddings.token_type_embeddings.weight', [typeVocab, hidden]), 'token_type_ids']);
  const seq = op('Unsqueeze', [op('Gather', [op('Shape', ['input_ids']), c.idx1], { axis: 0 }), c.axes0]);
  const positionIds = g.int64s(
    'embeddings.position_ids',
    Array.from({ length: maxPositions }, (_, i) => i),
    [1, maxPositions],
  );
  const positions = op('Slice', [positionIds, c.zero, seq, c.axes1]);
  const posEmb = op('Gather', [g.weights('embeddings.position_embeddings.weight', [maxPositions, hidden]), positions]);
  let h = layerNorm(op('Add', [op('Add', [words, types]), posEmb]), 'embeddings');

  // Additive mask, broadcast over heads and query positions: 0 where attended, float min where padded.
  const mask = op('Cast', [op('Unsqueeze', [op('Unsqueeze', ['attention_mask', c.axes1]), c.axes2])], { to: FLOAT });
  const additiveMask = op('Mul', [op('Sub', [c.one, mask]), c.floatMin]);

  for (let l = 0; l < layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = splitHeads(linear(h, `${p}.attention.self.query`, hidden, hidden), [0, 2, 1, 3]);
    const k = splitHeads(linear(h, `${p}.attention.self.key`, hidden, hidden), [0, 2, 3, 1]);
    const v = splitHeads(linear(h, `${p}.attention.self.value`, hidden, hidden), [0, 2, 1, 3]);
    const scores = op('Add', [op('Div', [op('MatMul', [q, k]), c.scale]), additiveMask]);
    const context = op('Transpose', [op('MatMul', [op('Softmax', [scores], { axis: -1 }), v])], { perm: [0, 2, 1, 3] });
    const merged = op('Reshape', [context, leadingDims(context, c.hidden)]);
    const attended = layerNorm(op('Add', [linear(merged, `${p}.attention.output.dense`, hidden, hidden), h]), `${p}.attention.output`);
    const inner = linear(attended, `${p}.intermediate.dense`, hidden, intermediate);
    const gelu = op('Mul', [op('Mul', [inner, op('Add', [op('Erf', [op('Div', [inner, c.sqrt2])]), c.one])]), c.half]);
    const out = op('Add', [linear(gelu, `${p}.output.dense`, intermediate, hidden), attended]);
    h = layerNorm(out, `${p}.output`, l === layers - 1 ? 'last_hidden_state' : undefined);
  }

  const dims = [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }];
  const input = (name) => ({ name, type: { tensorType: { elemType: INT64, shape: { dim: dims } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'context-gateway-bench',
    docString: `${MINILM_SHAPE_LABEL}: all-MiniLM-L6-v2's architecture with seeded random weights.`,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'minilm-l6-shape',
      node: g.node,
      initializer: g.initializer,
      input: [input('input_ids'), input('attention_mask'), input('token_type_ids')],
      output: [{ name: 'last_hidden_state', type: { tensorType: { elemType: FLOAT, shape: { dim: [...dims, { dimValue: hidden }] } } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** BERT's layout of specials: [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103. */
const SPECIALS = ['[PAD]', ...Array.from({ length: 99 }, (_, i) => `[unused${i}]`), '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const id = (token) => SPECIALS.indexOf(token);

/** bert-base-uncased has ~5,800 "##" continuations among its 30,522 entries; the rest are mostly whole words. */
const CONTINUATIONS = 5800;

/**
 * BERT's specials and characters, then English words and continuations in cl100k_base's merge order (the
 * most frequent first): " word" tokens become words, bare lowercase pieces "##" continuations.
 */
function vocabulary() {
  const vocab = [...SPECIALS];
  const seen = new Set(vocab);
  const add = (t) => {
    if (vocab.length < MINILM_SHAPE.vocab && !seen.has(t)) {
      seen.add(t);
      vocab.push(t);
    }
  };
  // Every printable ASCII character, alone and as a continuation, so nothing ordinary becomes [UNK].
  const chars = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i).toLowerCase());
  for (const ch of chars) add(ch);
  for (const ch of chars) add(`##${ch}`);
  const tokens = [];
  for (const line of cl100k.bpe_ranks.split('\n')) {
    const fields = line.split(' ');
    const offset = Number(fields[1]);
    for (let i = 2; i < fields.length; i++) tokens[offset + i - 2] = atob(fields[i]);
  }
  let continuations = 0;
  for (const t of tokens) {
    if (t === undefined) continue;
    const word = /^ ?([A-Za-z]+|\d+)$/.exec(t);
    if (!word) continue;
    if (t.startsWith(' ') || /^\d/.test(t)) add(word[1].toLowerCase());
    else if (/^[a-z]+$/.test(t) && continuations < CONTINUATIONS && !seen.has(`##${t}`)) {
      add(`##${t}`);
      continuations++;
    }
  }
  if (vocab.length !== MINILM_SHAPE.vocab) throw new Error(`vocabulary has ${vocab.length} entries, not ${MINILM_SHAPE.vocab}`);
  return vocab;
}

function tokenizerJson() {
  const vocab = Object.fromEntries(vocabulary().map((t, i) => [t, i]));
  const special = (content) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tok = (name, typeId = 0) => ({ SpecialToken: { id: name, type_id: typeId } });
  const seq = (name, typeId) => ({ Sequence: { id: name, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('[CLS]'), seq('A', 0), tok('[SEP]')],
      pair: [tok('[CLS]'), seq('A', 0), tok('[SEP]'), seq('B', 1), tok('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

function configJson() {
  const s = MINILM_SHAPE;
  return {
    _comment: `${MINILM_SHAPE_LABEL}; generated by test/bench/lib/minilm-shape.mjs`,
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_act: 'gelu',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_attention_heads: s.heads,
    num_hidden_layers: s.layers,
    max_position_embeddings: s.maxPositions,
    type_vocab_size: s.typeVocab,
    vocab_size: s.vocab,
    layer_norm_eps: s.layerNormEps,
    initializer_range: INIT_STD,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
  };
}

const TOKENIZER_CONFIG = {
  tokenizer_class: 'BertTokenizer',
  do_lower_case: true,
  do_basic_tokenize: true,
  strip_accents: null,
  tokenize_chinese_chars: true,
  clean_up_tokenization_spaces: true,
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  mask_token: '[MASK]',
  model_max_length: 512,
};

/**
 * Returns `{ dir, name }` for the adapter's `modelDir` / `model` (EMBEDDINGS_MODEL_DIR / EMBEDDINGS_MODEL),
 * building `<dir>/<name>/` first unless it is already there. Default dir: `<os.tmpdir()>/<version>`, so
 * repeated runs reuse the ~90 MB build (~1–2 s). Written to a side folder and renamed, so an interrupted
 * build never leaves a folder that looks complete.
 */
export async function ensureMiniLmShape({ dir = join(tmpdir(), MINILM_SHAPE_VERSION), name = 'minilm-l6-shape' } = {}) {
  const root = join(dir, name);
  const result = { dir, name, shape: MINILM_SHAPE, label: MINILM_SHAPE_LABEL, built: false };
  if (existsSync(join(root, 'onnx', 'model.onnx'))) return result;
  const partial = `${root}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, 'onnx'), { recursive: true });
  await writeFile(join(partial, 'onnx', 'model.onnx'), modelBytes());
  await writeFile(join(partial, 'config.json'), JSON.stringify(configJson(), null, 2));
  await writeFile(join(partial, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(join(partial, 'tokenizer_config.json'), JSON.stringify(TOKENIZER_CONFIG, null, 2));
  try {
    await rename(partial, root);
  } catch (err) {
    // Another process finished the same build first: keep its copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(root, 'onnx', 'model.onnx'))) throw err;
  }
  return { ...result, built: true };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const m = await ensureMiniLmShape(process.argv[2] ? { dir: process.argv[2] } : {});
  console.log(`${m.label}${m.built ? `, built in ${Math.round(performance.now() - t0)} ms` : ' (cached)'}`);
  console.log(`EMBEDDINGS_KIND=transformers EMBEDDINGS_MODEL_DIR=${m.dir} EMBEDDINGS_MODEL=${m.name}`);
}
