/**
 * Translates a TF.js graph model (model.json + weight shards) into an ONNX model, op by op, so that
 * onnxruntime runs it natively instead of TF.js on WASM.
 *
 * It covers the ops of Universal Sentence Encoder Lite's graph, and refuses anything else by name
 * (a different graph fails loudly at load, never with wrong vectors). TF's int32 tensors become
 * int64 in ONNX, the type every ONNX shape operand takes; values that ONNX wants as attributes (axes,
 * permutations, slice bounds) must be constants in the graph, and are read at translation time.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

/** The parts of a TF.js `model.json` this reads. */
export interface TfjsModelJson {
  modelTopology: { node: TfNode[] };
  weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }>;
}

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

interface TfAttr {
  i?: string | number;
  b?: boolean;
  s?: string | number[];
  type?: string | number;
  list?: { i?: Array<string | number> };
}

interface Constant {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** TF DataType (enum number or its name) → the ONNX element type its tensors take here. */
function onnxType(t: string | number | undefined): number {
  switch (t) {
    case 1:
    case 'DT_FLOAT':
      return T.FLOAT;
    case 3:
    case 9:
    case 'DT_INT32':
    case 'DT_INT64':
      return T.INT64;
    case 10:
    case 'DT_BOOL':
      return T.BOOL;
    default:
      throw new Error(`unsupported TF data type ${String(t)}`);
  }
}

/** Reads the weights of every Const node out of the shards, in the manifest's order. */
function readConstants(json: TfjsModelJson, shards: Uint8Array[][]): Map<string, Constant> {
  const out = new Map<string, Constant>();
  json.weightsManifest.forEach((group, g) => {
    const parts = shards[g] ?? [];
    const bytes = Buffer.concat(parts);
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const size = w.dtype === 'bool' ? count : count * 4;
      // A copy, aligned for the typed array (a shard's offset need not be a multiple of 4).
      const slice = new Uint8Array(bytes.subarray(offset, offset + size));
      offset += size;
      const data =
        w.dtype === 'float32' ? new Float32Array(slice.buffer) : w.dtype === 'int32' ? new Int32Array(slice.buffer) : w.dtype === 'bool' ? slice : undefined;
      if (!data) throw new Error(`unsupported weight dtype ${w.dtype} (${w.name})`);
      out.set(w.name, { dtype: w.dtype as Constant['dtype'], shape: w.shape, data });
    }
  });
  return out;
}

/**
 * The ONNX model (serialized ModelProto) computing what the TF.js graph computes. `shards[g]` are the
 * bytes of weight group g's files, in the order its `paths` lists them. `output` names the node
 * whose value the model returns (default: the last node).
 */
export function tfjsToOnnx(json: TfjsModelJson, shards: Uint8Array[][], opts: { output?: string } = {}): Uint8Array {
  const constants = readConstants(json, shards);
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers = new Map<string, onnxProto.onnx.ITensorProto>();
  const inputs: onnxProto.onnx.IValueInfoProto[] = [];
  let tmpCount = 0;
  const tmp = (base: string) => `${base}/__onnx_${tmpCount++}`;

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────
  const int64Tensor = (name: string, values: Array<number | bigint>, dims: number[] = [values.length]) => {
    const raw = new BigInt64Array(values.map((v) => BigInt(v)));
    initializers.set(name, { name, dataType: T.INT64, dims, rawData: new Uint8Array(raw.buffer) });
    return name;
  };
  let constCount = 0;
  const ints = (values: Array<number | bigint>, dims?: number[]) => int64Tensor(`__const_${constCount++}`, values, dims);

  /** A TF constant as an initializer (int32 widened to int64), made once, on first use. */
  const useConstant = (name: string): string => {
    if (initializers.has(name)) return name;
    const c = constants.get(name) as Constant;
    if (c.dtype === 'float32') {
      const f = c.data as Float32Array;
      initializers.set(name, { name, dataType: T.FLOAT, dims: c.shape, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) });
    } else if (c.dtype === 'int32') {
      int64Tensor(name, Array.from(c.data as Int32Array), c.shape);
    } else {
      initializers.set(name, { name, dataType: T.BOOL, dims: c.shape, rawData: c.data as Uint8Array });
    }
    return name;
  };

  /** An input reference ("node", "node:1", "^control") as the ONNX tensor name; null for a control input. */
  const ref = (input: string): string | null => {
    if (input.startsWith('^')) return null;
    const [name, port] = input.split(':') as [string, string | undefined];
    return port && port !== '0' ? `${name}:${port}` : name;
  };

  /** The value of a constant input, as numbers (attributes ONNX wants at graph-build time). */
  const constOf = (input: string, what: string): number[] => {
    const c = constants.get(input.split(':')[0] as string);
    if (!c) throw new Error(`${what} must be a constant (got ${input})`);
    return Array.from(c.data as ArrayLike<number>, Number);
  };

  const emit = (opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []) => {
    // Constants become initializers only when a node reads them (those read as attributes never do).
    for (const x of input) if (constants.has(x)) useConstant(x);
    nodes.push({ opType, input, output, attribute, name: output[0] as string });
  };
  const intAttr = (name: string, i: number) => ({ name, type: A.INT, i });
  const intsAttr = (name: string, values: number[]) => ({ name, type: A.INTS, ints: values });
  const attrInt = (n: TfNode, key: string): number => Number(n.attr?.[key]?.i ?? 0);
  const attrBool = (n: TfNode, key: string): boolean => n.attr?.[key]?.b === true;
  // String attributes are bytes: an array of char codes in some converters' JSON, base64 in others.
  const attrString = (n: TfNode, key: string, fallback: string): string => {
    const s = n.attr?.[key]?.s as string | number[] | undefined;
    if (s === undefined) return fallback;
    return Array.isArray(s) ? String.fromCharCode(...s) : Buffer.from(s, 'base64').toString('latin1');
  };

  // ── ops ────────────────────────────────────────────────────────────────────────────────────────
  const simple: Record<string, string> = {
    Add: 'Add',
    Sub: 'Sub',
    Mul: 'Mul',
    RealDiv: 'Div',
    Maximum: 'Max',
    Less: 'Less',
    Greater: 'Greater',
    LogicalNot: 'Not',
    BiasAdd: 'Add',
    Relu: 'Relu',
    Tanh: 'Tanh',
    Sin: 'Sin',
    Cos: 'Cos',
    Softmax: 'Softmax',
    Shape: 'Shape',
    GatherNd: 'GatherND',
  };
  const reduce: Record<string, string> = { Max: 'ReduceMax', Mean: 'ReduceMean', Prod: 'ReduceProd', Sum: 'ReduceSum' };

  const last = json.modelTopology.node.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder').at(-1);
  const outputName = opts.output ?? last?.name;
  if (!outputName) throw new Error('the graph has no node to return');

  for (const n of json.modelTopology.node) {
    if (n.op === 'Const') continue;
    const ins = (n.input ?? []).map(ref).filter((x): x is string => x !== null);
    const raw = (n.input ?? []).filter((x) => !x.startsWith('^'));
    const out = n.name;
    const simpleOp = simple[n.op];
    if (simpleOp) {
      if (n.op === 'BiasAdd' && attrString(n, 'data_format', 'NHWC') !== 'NHWC') throw new Error(`${n.name}: BiasAdd is translated for NHWC only`);
      emit(simpleOp, ins, [out]);
      continue;
    }
    const reduceOp = reduce[n.op];
    if (reduceOp) {
      const axes = constOf(raw[1] as string, `${n.name}: reduction axes`);
      const keepdims = intAttr('keepdims', attrBool(n, 'keep_dims') ? 1 : 0);
      // Opset 17: ReduceSum takes its axes as an input, the others as an attribute.
      if (reduceOp === 'ReduceSum') emit(reduceOp, [ins[0] as string, ints(axes)], [out], [keepdims]);
      else emit(reduceOp, [ins[0] as string], [out], [intsAttr('axes', axes), keepdims]);
      continue;
    }
    switch (n.op) {
      case 'Placeholder': {
        const dims = ((n.attr?.shape as { shape?: { dim?: Array<{ size: string }> } } | undefined)?.shape?.dim ?? []).map((d) =>
          Number(d.size) < 0 ? { dimParam: `${n.name}_${Number(d.size) === -1 ? 'n' : d.size}` } : { dimValue: Number(d.size) },
        );
        inputs.push({ name: out, type: { tensorType: { elemType: onnxType(n.attr?.dtype?.type), shape: { dim: dims } } } });
        break;
      }
      case 'Square':
        emit('Mul', [ins[0] as string, ins[0] as string], [out]);
        break;
      case 'Rsqrt': {
        const root = tmp(out);
        emit('Sqrt', ins, [root]);
        emit('Reciprocal', [root], [out]);
        break;
      }
      case 'Cast':
        emit('Cast', ins, [out], [intAttr('to', onnxType(n.attr?.DstT?.type))]);
        break;
      case 'Where': {
        if (ins.length !== 1) throw new Error(`${n.name}: only the one-input Where (indices of true) is translated`);
        const nz = tmp(out);
        emit('NonZero', ins, [nz]);
        emit('Transpose', [nz], [out], [intsAttr('perm', [1, 0])]);
        break;
      }
      case 'Reshape':
        emit('Reshape', ins, [out]);
        break;
      case 'GatherV2': {
        if (attrInt(n, 'batch_dims') !== 0) throw new Error(`${n.name}: GatherV2 with batch_dims is not translated`);
        const [axis] = constOf(raw[2] as string, `${n.name}: gather axis`);
        emit('Gather', [ins[0] as string, ins[1] as string], [out], [intAttr('axis', axis as number)]);
        break;
      }
      case 'ExpandDims':
        emit('Unsqueeze', [ins[0] as string, ints(constOf(raw[1] as string, `${n.name}: dim`))], [out]);
        break;
      case 'Squeeze': {
        const axes = (n.attr?.squeeze_dims?.list?.i ?? []).map(Number);
        emit('Squeeze', axes.length > 0 ? [ins[0] as string, ints(axes)] : [ins[0] as string], [out]);
        break;
      }
      case 'Transpose':
        emit('Transpose', [ins[0] as string], [out], [intsAttr('perm', constOf(raw[1] as string, `${n.name}: perm`))]);
        break;
      case 'ConcatV2': {
        const [axis] = constOf(raw[raw.length - 1] as string, `${n.name}: concat axis`);
        emit('Concat', ins.slice(0, -1), [out], [intAttr('axis', axis as number)]);
        break;
      }
      case 'Pack': {
        const axis = attrInt(n, 'axis');
        const axes = ints([axis]);
        const parts = ins.map((x) => {
          const u = tmp(out);
          emit('Unsqueeze', [x, axes], [u]);
          return u;
        });
        emit('Concat', parts, [out], [intAttr('axis', axis)]);
        break;
      }
      case 'StridedSlice': {
        if (attrInt(n, 'ellipsis_mask') !== 0 || attrInt(n, 'new_axis_mask') !== 0) throw new Error(`${n.name}: StridedSlice with ellipsis or new axes is not translated`);
        const begin = constOf(raw[1] as string, `${n.name}: begin`);
        const end = constOf(raw[2] as string, `${n.name}: end`);
        const strides = constOf(raw[3] as string, `${n.name}: strides`);
        const [bm, em, sm] = [attrInt(n, 'begin_mask'), attrInt(n, 'end_mask'), attrInt(n, 'shrink_axis_mask')];
        const starts: bigint[] = [];
        const ends: bigint[] = [];
        const shrink: number[] = [];
        begin.forEach((b, i) => {
          const up = (strides[i] as number) > 0;
          if (sm & (1 << i)) {
            starts.push(BigInt(b));
            ends.push(b === -1 ? INT64_MAX : BigInt(b + 1));
            shrink.push(i);
            return;
          }
          starts.push(bm & (1 << i) ? (up ? 0n : INT64_MAX) : BigInt(b));
          ends.push(em & (1 << i) ? (up ? INT64_MAX : INT64_MIN) : BigInt(end[i] as number));
        });
        const axes = begin.map((_, i) => i);
        const sliced = shrink.length > 0 ? tmp(out) : out;
        emit('Slice', [ins[0] as string, ints(starts), ints(ends), ints(axes), ints(strides)], [sliced]);
        if (shrink.length > 0) emit('Squeeze', [sliced, ints(shrink)], [out]);
        break;
      }
      case 'Slice': {
        const begin = constOf(raw[1] as string, `${n.name}: begin`);
        const size = constOf(raw[2] as string, `${n.name}: size`);
        const ends = begin.map((b, i) => (size[i] === -1 ? INT64_MAX : BigInt(b + (size[i] as number))));
        emit('Slice', [ins[0] as string, ints(begin), ints(ends), ints(begin.map((_, i) => i))], [out]);
        break;
      }
      case 'SplitV': {
        const sizes = constOf(raw[1] as string, `${n.name}: size_splits`);
        const [axis] = constOf(raw[2] as string, `${n.name}: split axis`);
        const outs = sizes.map((_, k) => (k === 0 ? out : `${out}:${k}`));
        emit('Split', [ins[0] as string, ints(sizes)], outs, [intAttr('axis', axis as number)]);
        break;
      }
      case 'MatMul': {
        const [a, b] = [ins[0] as string, ins[1] as string];
        const t = (x: string, yes: boolean) => {
          if (!yes) return x;
          const y = tmp(out);
          emit('Transpose', [x], [y], [intsAttr('perm', [1, 0])]);
          return y;
        };
        emit('MatMul', [t(a, attrBool(n, 'transpose_a')), t(b, attrBool(n, 'transpose_b'))], [out]);
        break;
      }
      case 'BatchMatMul':
      case 'BatchMatMulV2': {
        const [x, y] = [attrBool(n, 'adj_x') ? 'ji' : 'ij', attrBool(n, 'adj_y') ? 'kj' : 'jk'];
        if (x === 'ij' && y === 'jk') emit('MatMul', ins, [out]);
        else emit('Einsum', ins, [out], [{ name: 'equation', type: A.STRING, s: new TextEncoder().encode(`...${x},...${y}->...ik`) }]);
        break;
      }
      case 'Conv2D': {
        // A 1×1 convolution over NHWC with unit strides is a matrix product over the last axis.
        const kernel = raw[1]?.split(':')[0] as string;
        const k = constants.get(kernel);
        const unit = (key: string) => (n.attr?.[key]?.list?.i ?? ['1', '1', '1', '1']).every((v) => Number(v) === 1);
        if (k?.shape[0] !== 1 || k.shape[1] !== 1 || !unit('strides') || !unit('dilations') || attrString(n, 'data_format', 'NHWC') !== 'NHWC') {
          throw new Error(`${n.name}: only 1×1 convolutions with unit strides are translated`);
        }
        const name = `${kernel}/as_matrix`;
        const f = k.data as Float32Array;
        initializers.set(name, { name, dataType: T.FLOAT, dims: [k.shape[2] as number, k.shape[3] as number], rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) });
        emit('MatMul', [ins[0] as string, name], [out]);
        break;
      }
      case 'ScatterNd': {
        const zeros = tmp(out);
        const zero = n.attr?.T?.type === 1 || n.attr?.T?.type === 'DT_FLOAT' ? { dataType: T.FLOAT, dims: [1], floatData: [0] } : { dataType: T.INT64, dims: [1], rawData: new Uint8Array(8) };
        emit('ConstantOfShape', [ins[2] as string], [zeros], [{ name: 'value', type: A.TENSOR, t: zero }]);
        emit('ScatterND', [zeros, ins[0] as string, ins[1] as string], [out]);
        break;
      }
      case 'SparseToDense': {
        const [indices, shape, values, fill] = ins as [string, string, string, string];
        const dense = tmp(out);
        emit('Expand', [fill, shape], [dense]);
        emit('ScatterND', [dense, indices, values], [out]);
        break;
      }
      case 'Range':
        emit('Range', ins, [out]);
        break;
      default:
        throw new Error(`TF op ${n.op} (${n.name}) has no ONNX translation here`);
    }
  }

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'context-gateway (TF.js graph translation)',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'use-lite',
      node: nodes,
      initializer: [...initializers.values()],
      input: inputs,
      output: [{ name: outputName, type: { tensorType: { elemType: T.FLOAT } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
