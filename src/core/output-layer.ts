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
import { CompensatedSum } from './numeric/compensated-sum.js';

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
  const total = new CompensatedSum();
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
  const total = new CompensatedSum();
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

/*
 * The three products (z = x W, x^T delta, delta W^T) are one kernel, C[i][j] = sum_l A(i, l) B(j, l), over
 * operands packed into panels: 4 rows of A (4 of B) interleaved along l, so the inner loop reads two
 * sequential streams and keeps a 4 x 4 tile of C in 16 accumulators (measured ~10% ahead of 4 x 2 and 2 x 4).
 * Each C[i][j] is still summed over l = 0, 1, ... in order from 0, as the plain loops did, so the results are
 * bit for bit the same; only the memory traffic changes (~4x the plain i-j-k loops at 256 x 512 x 256).
 */
const A_WIDTH = 4;
const B_WIDTH = 4;

/**
 * Packs P rows of length L (element (p, l) at src[p * sp + l * sl]) into panels of `width` rows:
 * out[(block * L + l) * width + q] = element (block * width + q, l), zero past P.
 */
function pack(src: Float64Array, P: number, L: number, sp: number, sl: number, width: number): Float64Array {
  const blocks = Math.ceil(P / width);
  const out = new Float64Array(blocks * L * width);
  for (let block = 0; block < blocks; block++) {
    const rows = Math.min(width, P - block * width);
    for (let q = 0; q < rows; q++) {
      const from = (block * width + q) * sp;
      let to = block * L * width + q;
      for (let l = 0; l < L; l++, to += width) out[to] = src[from + l * sl];
    }
  }
  return out;
}

/** C (I x J, row-major, written into `out`) from packed A (I rows) and B (J rows) over L. */
function packedProduct(a: Float64Array, b: Float64Array, I: number, J: number, L: number, out: Float64Array) {
  for (let i0 = 0; i0 < I; i0 += A_WIDTH) {
    for (let j0 = 0; j0 < J; j0 += B_WIDTH) {
      let c00 = 0;
      let c01 = 0;
      let c02 = 0;
      let c03 = 0;
      let c10 = 0;
      let c11 = 0;
      let c12 = 0;
      let c13 = 0;
      let c20 = 0;
      let c21 = 0;
      let c22 = 0;
      let c23 = 0;
      let c30 = 0;
      let c31 = 0;
      let c32 = 0;
      let c33 = 0;
      let ia = (i0 / A_WIDTH) * L * A_WIDTH;
      let ib = (j0 / B_WIDTH) * L * B_WIDTH;
      for (let l = 0; l < L; l++, ia += A_WIDTH, ib += B_WIDTH) {
        const a0 = a[ia];
        const a1 = a[ia + 1];
        const a2 = a[ia + 2];
        const a3 = a[ia + 3];
        // One element of B at a time: 4 + 1 live loads beside the 16 accumulators.
        let bk = b[ib];
        c00 += a0 * bk;
        c10 += a1 * bk;
        c20 += a2 * bk;
        c30 += a3 * bk;
        bk = b[ib + 1];
        c01 += a0 * bk;
        c11 += a1 * bk;
        c21 += a2 * bk;
        c31 += a3 * bk;
        bk = b[ib + 2];
        c02 += a0 * bk;
        c12 += a1 * bk;
        c22 += a2 * bk;
        c32 += a3 * bk;
        bk = b[ib + 3];
        c03 += a0 * bk;
        c13 += a1 * bk;
        c23 += a2 * bk;
        c33 += a3 * bk;
      }
      if (i0 + A_WIDTH <= I && j0 + B_WIDTH <= J) {
        let o = i0 * J + j0;
        out[o] = c00;
        out[o + 1] = c01;
        out[o + 2] = c02;
        out[o + 3] = c03;
        o += J;
        out[o] = c10;
        out[o + 1] = c11;
        out[o + 2] = c12;
        out[o + 3] = c13;
        o += J;
        out[o] = c20;
        out[o + 1] = c21;
        out[o + 2] = c22;
        out[o + 3] = c23;
        o += J;
        out[o] = c30;
        out[o + 1] = c31;
        out[o + 2] = c32;
        out[o + 3] = c33;
      } else {
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let di = 0; di < A_WIDTH && i0 + di < I; di++)
          for (let dj = 0; dj < B_WIDTH && j0 + dj < J; dj++)
            out[(i0 + di) * J + j0 + dj] = tile[di * B_WIDTH + dj];
      }
    }
  }
  return out;
}

/** z = x W + b (N x M times M x K); the bias is added after the sum, as z_k = (sum_j x_j w_jk) + b_k. */
export function affine(
  x: Float64Array,
  weights: Float64Array,
  bias: Float64Array | undefined,
  N: number,
  M: number,
  K: number,
): Float64Array {
  // A(n, j) = x[n][j], B(k, j) = weights[j][k].
  const z = packedProduct(
    pack(x, N, M, M, 1, A_WIDTH),
    pack(weights, K, M, 1, K, B_WIDTH),
    N,
    K,
    M,
    new Float64Array(N * K),
  );
  if (bias) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) z[n * K + k] += bias[k];
  return z;
}

/** x^T delta (M x N times N x K = M x K): the weight gradient. */
export function transposeTimes(
  x: Float64Array,
  delta: Float64Array,
  N: number,
  M: number,
  K: number,
): Float64Array {
  // A(j, n) = x[n][j], B(k, n) = delta[n][k].
  return packedProduct(
    pack(x, M, N, 1, M, A_WIDTH),
    pack(delta, K, N, 1, K, B_WIDTH),
    M,
    K,
    N,
    new Float64Array(M * K),
  );
}

/** delta W^T (N x K times K x M = N x M): the input gradient. */
export function timesTranspose(
  delta: Float64Array,
  weights: Float64Array,
  N: number,
  K: number,
  M: number,
): Float64Array {
  // A(n, k) = delta[n][k], B(j, k) = weights[j][k].
  return packedProduct(
    pack(delta, N, K, K, 1, A_WIDTH),
    pack(weights, M, K, K, 1, B_WIDTH),
    N,
    M,
    K,
    new Float64Array(N * M),
  );
}

function columnSums(delta: Float64Array, N: number, K: number): Float64Array {
  const out = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k] += delta[n * K + k];
  return out;
}
