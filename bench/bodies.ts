/**
 * Request bodies for the HTTP benchmarks: full-precision doubles (what a client's float64 tensors look like in
 * JSON: 17 significant digits, not short literals), from a seeded generator so that runs compare.
 */
import { type BinaryRequest, encodeRequest } from './binary-client.js';

/** mulberry32: a small seeded generator; uniform in [0, 1). */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale). */
export function uniform(n: number, seed: number, scale = 4): Float64Array {
  const next = random(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * next() - 1) * scale;
  return out;
}

/** Rows x cols as number[][] (rows = 1 gives number[] when vector is true). */
export function nested(data: Float64Array, rows: number, cols: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) out.push(Array.from(data.subarray(r * cols, (r + 1) * cols)));
  return out;
}

export interface HttpCase {
  /** Short id, e.g. "forward/100000". */
  readonly id: string;
  readonly op: 'forward' | 'derivative' | 'jacobian' | 'output-layer';
  /** Elements in the request's main tensor (z, or x for the output layer). */
  readonly elements: number;
  /** Elements in the reply (all tensors). */
  readonly replyElements: number;
  readonly path: string;
  readonly json: string;
  /** The same request with binary tensors, for the routes that take them. */
  readonly binary: BinaryRequest;
}

/** A [rows][cols] batch when rows > 1, else a vector: the two JSON forms the contract has. */
function tensorFields(name: string, data: Float64Array, rows: number, cols: number) {
  return {
    json: rows > 1 ? nested(data, rows, cols) : Array.from(data),
    binary: { name, data, shape: rows > 1 ? [rows, cols] : [cols] },
  };
}

/** Rows x cols with about `elements` numbers: rows of 1000 beyond 1000 elements, as batches come. */
function layout(elements: number): { rows: number; cols: number } {
  if (elements <= 1000) return { rows: 1, cols: elements };
  return { rows: Math.ceil(elements / 1000), cols: 1000 };
}

export function forwardCase(elements: number, name = 'sigmoid'): HttpCase {
  const { rows, cols } = layout(elements);
  const z = tensorFields('z', uniform(rows * cols, elements), rows, cols);
  return {
    id: `forward/${elements}`,
    op: 'forward',
    elements: rows * cols,
    replyElements: rows * cols,
    path: `/v1/activations/${name}/forward`,
    json: JSON.stringify({ z: z.json }),
    binary: encodeRequest({}, [z.binary]),
  };
}

export function derivativeCase(elements: number, name = 'tanh'): HttpCase {
  const { rows, cols } = layout(elements);
  const z = tensorFields('z', uniform(rows * cols, elements + 1), rows, cols);
  return {
    id: `derivative/${elements}`,
    op: 'derivative',
    elements: rows * cols,
    replyElements: 2 * rows * cols,
    path: `/v1/activations/${name}/derivative`,
    json: JSON.stringify({ z: z.json }),
    binary: encodeRequest({}, [z.binary]),
  };
}

/** Softmax Jacobian with K = 100: N rows give N*K*K reply elements (16 -> one row of 4, as the smallest). */
export function jacobianCase(replyElements: number): HttpCase {
  const K = replyElements < 100 * 100 ? Math.round(Math.sqrt(replyElements)) : 100;
  const N = Math.max(1, Math.round(replyElements / (K * K)));
  const z = tensorFields('z', uniform(N * K, replyElements + 2), N, K);
  return {
    id: `jacobian/${N * K * K}`,
    op: 'jacobian',
    elements: N * K,
    replyElements: N * K * K + N * K,
    path: '/v1/softmax/jacobian',
    json: JSON.stringify({ z: z.json }),
    binary: encodeRequest({}, [z.binary]),
  };
}

/** The case a tool names as op/elements (bench/ab.ts, bench/profile.ts): forward, derivative or jacobian. */
export function caseFor(op: string, elements: number): HttpCase {
  if (op === 'derivative') return derivativeCase(elements);
  if (op === 'jacobian') return jacobianCase(elements);
  return forwardCase(elements);
}

export function outputLayerCase(N: number, M: number, K: number): HttpCase {
  const x = tensorFields('x', uniform(N * M, 11), N, M);
  const weights = tensorFields('weights', uniform(M * K, 12, 0.05), M, K);
  const targets = tensorFields(
    'targets',
    uniform(N * K, 13, 0.5).map((v) => v + 0.5),
    N,
    K,
  );
  const rest = { activation: 'sigmoid', loss: 'binary_cross_entropy', reduction: 'mean' };
  return {
    id: `output-layer/${N}x${M}x${K}`,
    op: 'output-layer',
    elements: N * M,
    replyElements: 3 * N * K + M * K + K + N * M,
    path: '/v1/gradients/output-layer',
    json: JSON.stringify({
      x: x.json,
      weights: nested(weights.binary.data, M, K),
      targets: targets.json,
      ...rest,
    }),
    binary: encodeRequest(rest, [x.binary, { ...weights.binary, shape: [M, K] }, targets.binary]),
  };
}
