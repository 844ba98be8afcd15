/**
 * The output layer, batched over N samples: z = x W + b, a = g(z), the loss E, delta = dE/dz,
 * weightGradient = x^T delta, biasGradient = column sums of delta, inputGradient = delta W^T.
 *
 * Shapes (row-major): x N x M, weights M x K (weights[j][k] from input j to output k), bias K,
 * targets / z / a / delta N x K, weightGradient M x K, inputGradient N x M.
 */
import { forwardTensor } from './activations/index.js';
import type { Activation, ElementwiseActivation, Params, VectorActivation } from './activations/types.js';
import { assertFinite, NonFiniteResultError } from './errors.js';

export const losses = ['squared_error', 'cross_entropy', 'binary_cross_entropy'] as const;
export type Loss = (typeof losses)[number];

export const reductions = ['sum', 'mean'] as const;
export type Reduction = (typeof reductions)[number];

export interface OutputLayerInput {
  readonly x: Float64Array;
  /** Number of samples (rows of x and of targets). */
  readonly N: number;
  /** Inputs per sample (columns of x, rows of weights). */
  readonly M: number;
  readonly weights: Float64Array;
  /** Output neurons (columns of weights and of targets). */
  readonly K: number;
  /** Length K; zeros when absent. */
  readonly bias?: Float64Array;
  readonly targets: Float64Array;
  readonly activation: Activation;
  /** Resolved params of the activation (resolveParams). */
  readonly params: Params;
  readonly loss: Loss;
  readonly reduction: Reduction;
}

export interface OutputLayerResult {
  readonly loss: number;
  readonly z: Float64Array;
  readonly a: Float64Array;
  readonly delta: Float64Array;
  readonly weightGradient: Float64Array;
  readonly biasGradient: Float64Array;
  readonly inputGradient: Float64Array;
}

/**
 * Forward and backward pass of the output layer. Throws NonFiniteResultError naming the quantity when a
 * result is not finite (overflow, or a log of a <= 0 / 1 - a <= 0 under a non-zero target weight), and
 * RangeError when the sizes disagree (routes check shapes first; this is the last guard).
 */
export function outputLayer(input: OutputLayerInput): OutputLayerResult {
  const { x, N, M, weights, K, bias, targets, activation, params } = input;
  checkSizes(input);

  const z = affine(x, weights, bias, N, M, K);
  assertFinite('z', z);
  const a = forwardTensor(activation, z, K, params);
  assertFinite('a', a);

  const result = lossAndDelta(activation, params, z, a, targets, K, input.loss);
  let loss = result.loss;
  const delta = result.delta;
  if (input.reduction === 'mean') {
    loss /= N;
    for (let i = 0; i < delta.length; i++) delta[i] /= N;
  }
  assertFinite('loss', loss);
  assertFinite('delta', delta);

  const weightGradient = transposeTimes(x, delta, N, M, K);
  assertFinite('weightGradient', weightGradient);
  const biasGradient = columnSums(delta, N, K);
  assertFinite('biasGradient', biasGradient);
  const inputGradient = timesTranspose(delta, weights, N, K, M);
  assertFinite('inputGradient', inputGradient);

  return { loss, z, a, delta, weightGradient, biasGradient, inputGradient };
}

function checkSizes({ x, N, M, weights, K, bias, targets }: OutputLayerInput): void {
  const expect = (what: string, length: number, wanted: number, shape: string) => {
    if (length !== wanted)
      throw new RangeError(`output layer: ${what} has ${length} entries, expected ${shape} = ${wanted}`);
  };
  for (const [name, n] of [
    ['N', N],
    ['M', M],
    ['K', K],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`output layer: ${name} must be a positive integer`);
  }
  expect('x', x.length, N * M, `N x M = ${N} x ${M}`);
  expect('weights', weights.length, M * K, `M x K = ${M} x ${K}`);
  expect('targets', targets.length, N * K, `N x K = ${N} x ${K}`);
  if (bias) expect('bias', bias.length, K, 'K');
}

/** Compensated (Neumaier) running sum, for losses that add many terms of mixed size. */
class Sum {
  private sum = 0;
  private comp = 0;
  add(x: number): void {
    const t = this.sum + x;
    this.comp += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }
  get value(): number {
    return this.sum + this.comp;
  }
}

/** -w log(u) for a target weight w: 0 when w = 0 (0 log 0 = 0); throws where u <= 0 under w != 0. */
function weightedMinusLog(w: number, u: number, what: string, index: number): number {
  if (w === 0) return 0;
  if (!(u > 0))
    throw new NonFiniteResultError(
      'loss',
      `loss: log of ${what} = ${u} <= 0 at index ${index} under target weight ${w}; ` +
        'use an activation with values in (0, 1) for this loss',
    );
  return -w * Math.log(u);
}

function lossAndDelta(
  activation: Activation,
  params: Params,
  z: Float64Array,
  a: Float64Array,
  t: Float64Array,
  K: number,
  loss: Loss,
): { loss: number; delta: Float64Array } {
  if (activation.kind === 'elementwise') return elementwiseLossAndDelta(activation, params, z, a, t, loss);
  return vectorLossAndDelta(activation, z, a, t, K, loss);
}

/** Elementwise g: delta = dE/da * g'(z), or, with the entry's log forms, straight from the logits. */
function elementwiseLossAndDelta(
  entry: ElementwiseActivation,
  params: Params,
  z: Float64Array,
  a: Float64Array,
  t: Float64Array,
  loss: Loss,
): { loss: number; delta: Float64Array } {
  const delta = new Float64Array(z.length);
  const total = new Sum();
  const { logForm, logComplementForm } = entry;

  if (loss === 'squared_error') {
    for (let i = 0; i < z.length; i++) {
      const r = a[i] - t[i];
      total.add(0.5 * r * r);
      delta[i] = r * entry.derivative(z[i], params);
    }
  } else if (loss === 'cross_entropy' && logForm) {
    // E = -t log g(z) and delta = -t (log g)'(z), from z: finite where a rounds to 0 or 1.
    for (let i = 0; i < z.length; i++) {
      if (t[i] === 0) continue;
      total.add(-t[i] * logForm.forward(z[i], params));
      delta[i] = -t[i] * logForm.derivative(z[i], params);
    }
  } else if (loss === 'binary_cross_entropy' && logForm && logComplementForm) {
    // E = -[t log g(z) + (1 - t) log(1 - g(z))]; for sigmoid delta = -t sigma(-z) + (1 - t) sigma(z) = sigma(z) - t,
    // written as two terms so that t = 1 at large z gives -sigma(-z), not 1 - 1 = 0.
    for (let i = 0; i < z.length; i++) {
      const w1 = t[i];
      const w0 = 1 - t[i];
      let d = 0;
      if (w1 !== 0) {
        total.add(-w1 * logForm.forward(z[i], params));
        d -= w1 * logForm.derivative(z[i], params);
      }
      if (w0 !== 0) {
        total.add(-w0 * logComplementForm.forward(z[i], params));
        d -= w0 * logComplementForm.derivative(z[i], params);
      }
      delta[i] = d;
    }
  } else if (loss === 'cross_entropy') {
    // delta = -t g'(z) / a: the ratio first, so a tiny a with an equally tiny g' does not overflow.
    for (let i = 0; i < z.length; i++) {
      total.add(weightedMinusLog(t[i], a[i], `a[${i}]`, i));
      if (t[i] !== 0) delta[i] = -t[i] * (entry.derivative(z[i], params) / a[i]);
    }
  } else {
    for (let i = 0; i < z.length; i++) {
      const w1 = t[i];
      const w0 = 1 - t[i];
      const complement = 1 - a[i];
      total.add(weightedMinusLog(w1, a[i], `a[${i}]`, i));
      total.add(weightedMinusLog(w0, complement, `1 - a[${i}]`, i));
      const slope = entry.derivative(z[i], params);
      let d = 0;
      if (w1 !== 0) d -= w1 * (slope / a[i]);
      if (w0 !== 0) d += w0 * (slope / complement);
      delta[i] = d;
    }
  }
  return { loss: total.value, delta };
}

/**
 * Vector g (softmax, log_softmax): delta = J^T dE/da through the entry's backwardRows, never building J;
 * cross-entropy with the entry's log form goes straight from the logits (softmax: delta = a sum(t) - t).
 */
function vectorLossAndDelta(
  entry: VectorActivation,
  z: Float64Array,
  a: Float64Array,
  t: Float64Array,
  K: number,
  loss: Loss,
): { loss: number; delta: Float64Array } {
  const total = new Sum();
  const delta = new Float64Array(z.length);
  const dEda = new Float64Array(z.length);

  if (loss === 'cross_entropy' && entry.logForm) {
    const logA = new Float64Array(z.length);
    entry.logForm.forwardRows(z, K, logA);
    for (let i = 0; i < z.length; i++) {
      if (t[i] === 0) continue;
      total.add(-t[i] * logA[i]);
      dEda[i] = -t[i]; // v = dE/d(log a)
    }
    assertFinite('loss', total.value);
    entry.logForm.backwardRows(z, a, dEda, K, delta);
    return { loss: total.value, delta };
  }

  if (loss === 'squared_error') {
    for (let i = 0; i < z.length; i++) {
      const r = a[i] - t[i];
      total.add(0.5 * r * r);
      dEda[i] = r;
    }
  } else if (loss === 'cross_entropy') {
    for (let i = 0; i < z.length; i++) {
      total.add(weightedMinusLog(t[i], a[i], `a[${i}]`, i));
      if (t[i] !== 0) dEda[i] = -t[i] / a[i];
    }
  } else {
    for (let i = 0; i < z.length; i++) {
      const w1 = t[i];
      const w0 = 1 - t[i];
      const complement = 1 - a[i];
      total.add(weightedMinusLog(w1, a[i], `a[${i}]`, i));
      total.add(weightedMinusLog(w0, complement, `1 - a[${i}]`, i));
      let d = 0;
      if (w1 !== 0) d -= w1 / a[i];
      if (w0 !== 0) d += w0 / complement;
      dEda[i] = d;
    }
  }
  assertFinite('delta', dEda);
  entry.backwardRows(z, a, dEda, K, delta);
  return { loss: total.value, delta };
}

/** Rows of x handled together, so each row of weights is read once per block instead of once per sample. */
const ROW_BLOCK = 16;
/** Rows of weightGradient kept hot while every sample is added into them. */
const GRADIENT_BLOCK = 64;

/** z = x W + b (N x M times M x K), in i-j-k order over typed arrays, blocked over rows of x. */
function affine(
  x: Float64Array,
  weights: Float64Array,
  bias: Float64Array | undefined,
  N: number,
  M: number,
  K: number,
): Float64Array {
  const z = new Float64Array(N * K);
  for (let n0 = 0; n0 < N; n0 += ROW_BLOCK) {
    const n1 = Math.min(N, n0 + ROW_BLOCK);
    for (let j = 0; j < M; j++) {
      const wRow = j * K;
      for (let n = n0; n < n1; n++) {
        const xnj = x[n * M + j];
        const zRow = n * K;
        for (let k = 0; k < K; k++) z[zRow + k] += xnj * weights[wRow + k];
      }
    }
  }
  if (bias) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) z[n * K + k] += bias[k];
  return z;
}

/** x^T delta (M x N times N x K = M x K), blocked over rows of the result. */
function transposeTimes(x: Float64Array, delta: Float64Array, N: number, M: number, K: number): Float64Array {
  const out = new Float64Array(M * K);
  for (let j0 = 0; j0 < M; j0 += GRADIENT_BLOCK) {
    const j1 = Math.min(M, j0 + GRADIENT_BLOCK);
    for (let n = 0; n < N; n++) {
      const dRow = n * K;
      for (let j = j0; j < j1; j++) {
        const xnj = x[n * M + j];
        const oRow = j * K;
        for (let k = 0; k < K; k++) out[oRow + k] += xnj * delta[dRow + k];
      }
    }
  }
  return out;
}

/** delta W^T (N x K times K x M = N x M): row-by-row dot products, blocked over rows of delta. */
function timesTranspose(
  delta: Float64Array,
  weights: Float64Array,
  N: number,
  K: number,
  M: number,
): Float64Array {
  const out = new Float64Array(N * M);
  for (let n0 = 0; n0 < N; n0 += ROW_BLOCK) {
    const n1 = Math.min(N, n0 + ROW_BLOCK);
    for (let j = 0; j < M; j++) {
      const wRow = j * K;
      for (let n = n0; n < n1; n++) {
        const dRow = n * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += delta[dRow + k] * weights[wRow + k];
        out[n * M + j] = s;
      }
    }
  }
  return out;
}

function columnSums(delta: Float64Array, N: number, K: number): Float64Array {
  const out = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k] += delta[n * K + k];
  return out;
}
