/**
 * Builds a ~2 KB BERT-like ONNX model that transformers.js loads like any feature-extraction model,
 * so the transformers adapter's loading and inference code is tested without downloading anything:
 *
 *   last_hidden_state = (words[input_ids] + types[token_type_ids]) * attention_mask[..., None]
 *
 * written as `<dir>/<name>/onnx/model.onnx` beside `config.json`, a WordPiece `tokenizer.json` and
 * `tokenizer_config.json`. Point the adapter at it with `modelDir: dir, model: name`.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

// WordPiece vocabulary: the four BERT specials first (ids 0–3), then a few words and suffixes.
export const TINY_VOCAB =
  '[PAD] [UNK] [CLS] [SEP] the a cat dog sat on mat ran in park i like tea coffee hello world what did melanie paint last week . , ? ! ##s ##ing'.split(' ');
export const TINY_HIDDEN = 8;

/** A deterministic pseudo-random table (mulberry32), so every run builds the same model. */
function table(rows: number, cols: number, seed: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < rows * cols; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    out.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5);
  }
  return out;
}

function modelBytes(hidden: number): Uint8Array {
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  const dims = [{ dimParam: 'batch' }, { dimParam: 'sequence' }];
  const input = (name: string) => ({ name, type: { tensorType: { elemType: INT64, shape: { dim: dims } } } });
  const graph = {
    name: 'tiny-bert',
    node: [
      { opType: 'Gather', input: ['words', 'input_ids'], output: ['w'], name: 'word_embeddings' },
      { opType: 'Gather', input: ['types', 'token_type_ids'], output: ['t'], name: 'token_type_embeddings' },
      { opType: 'Add', input: ['w', 't'], output: ['e'] },
      { opType: 'Cast', input: ['attention_mask'], output: ['mask_f'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
      { opType: 'Unsqueeze', input: ['mask_f', 'last_axis'], output: ['mask3'] },
      { opType: 'Mul', input: ['e', 'mask3'], output: ['last_hidden_state'] },
    ],
    initializer: [
      { name: 'words', dataType: FLOAT, dims: [TINY_VOCAB.length, hidden], floatData: table(TINY_VOCAB.length, hidden, 42) },
      { name: 'types', dataType: FLOAT, dims: [2, hidden], floatData: table(2, hidden, 7) },
      { name: 'last_axis', dataType: INT64, dims: [1], int64Data: [-1] },
    ],
    input: [input('input_ids'), input('attention_mask'), input('token_type_ids')],
    output: [
      {
        name: 'last_hidden_state',
        type: { tensorType: { elemType: FLOAT, shape: { dim: [...dims, { dimValue: hidden }] } } },
      },
    ],
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'context-gateway-tests',
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A cross-encoder of the same family (BertForSequenceClassification, one label): its logit for a pair is
 * how many times the word `word` occurs in it, so a reranking by it is known in advance. `broken`: it
 * answers one number for the whole batch, as a model that is not a cross-encoder might.
 */
function crossEncoderBytes(word: string, broken = false): Uint8Array {
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  const dims = [{ dimParam: 'batch' }, { dimParam: 'sequence' }];
  const input = (name: string) => ({ name, type: { tensorType: { elemType: INT64, shape: { dim: dims } } } });
  const weights = TINY_VOCAB.map((t) => (t === word ? 1 : 0));
  const graph = {
    name: 'tiny-cross-encoder',
    node: [
      { opType: 'Gather', input: ['weights', 'input_ids'], output: ['w'] },
      { opType: 'Cast', input: ['attention_mask'], output: ['mask_f'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] },
      { opType: 'Unsqueeze', input: ['mask_f', 'last_axis'], output: ['mask3'] },
      { opType: 'Mul', input: ['w', 'mask3'], output: ['counted'] },
      // Broken: summed over every axis, one number for the whole batch instead of one per pair.
      { opType: 'ReduceSum', input: broken ? ['counted'] : ['counted', 'sequence_axis'], output: ['logits'], attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    ],
    initializer: [
      { name: 'weights', dataType: FLOAT, dims: [TINY_VOCAB.length, 1], floatData: weights },
      { name: 'last_axis', dataType: INT64, dims: [1], int64Data: [-1] },
      { name: 'sequence_axis', dataType: INT64, dims: [1], int64Data: [1] },
    ],
    input: [input('input_ids'), input('attention_mask'), input('token_type_ids')],
    output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1 }] } } } }],
  };
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'context-gateway-tests', opsetImport: [{ domain: '', version: 13 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

function tokenizerJson() {
  const vocab = Object.fromEntries(TINY_VOCAB.map((t, i) => [t, i]));
  const tok = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const seq = (id: 'A' | 'B', type_id: number) => ({ Sequence: { id, type_id } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((t, i) => special(t, i)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tok('[CLS]'), seq('A', 0), tok('[SEP]')],
      pair: [tok('[CLS]'), seq('A', 0), tok('[SEP]'), seq('B', 1), { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

export interface TinyModel {
  /** Use as the adapter's `modelDir` (transformers.js `localModelPath`). */
  dir: string;
  /** Use as the adapter's `model`. */
  name: string;
  hidden: number;
}

/**
 * Writes the tiny model into a fresh temp dir (or `dir`) and returns where it is. With `crossEncoderWord`
 * it is a cross-encoder instead (see crossEncoderBytes), for the reranker.
 */
export async function writeTinyModel(
  opts: { dir?: string; name?: string; hidden?: number; crossEncoderWord?: string; brokenCrossEncoder?: boolean } = {},
): Promise<TinyModel> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'tiny-model-')));
  const name = opts.name ?? (opts.crossEncoderWord ? 'tiny-cross-encoder' : 'tiny-bert');
  const hidden = opts.hidden ?? TINY_HIDDEN;
  const root = join(dir, name);
  await mkdir(join(root, 'onnx'), { recursive: true });
  if (opts.crossEncoderWord) {
    await writeFile(join(root, 'onnx', 'model.onnx'), crossEncoderBytes(opts.crossEncoderWord, opts.brokenCrossEncoder));
    const config = { model_type: 'bert', hidden_size: hidden, architectures: ['BertForSequenceClassification'], id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } };
    await writeFile(join(root, 'config.json'), JSON.stringify(config));
  } else {
    await writeFile(join(root, 'onnx', 'model.onnx'), modelBytes(hidden));
    await writeFile(join(root, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: hidden }));
  }
  await writeFile(join(root, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(
    join(root, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      model_max_length: 512,
    }),
  );
  return { dir, name, hidden };
}
