/**
 * The losses as a table: one entry per loss with E and dE/da from the output a, and, where the activation
 * provides log forms, E and dE/dz straight from the logits z. The output layer and the last layer of a
 * network both go through lossAndDelta, so they give the same numbers.
 *
 * Conventions (the contract's): E is summed over the elements of every sample; a zero target weight takes
 * no log (0 log 0 = 0); with any activation without log forms, a log that meets a <= 0 (or 1 - a <= 0) under
 * a non-zero target weight is a NonFiniteResultError naming the loss (422).
 */
import type { ElementwiseActivation, Params, VectorActivation } from './activations/types.js';
import { assertFinite, NonFiniteResultError } from './errors.js';
import { CompensatedSum } from './numeric/compensated-sum.js';

export const losses = ['squared_error', 'cross_entropy', 'binary_cross_entropy'] as const;
export type Loss = (typeof losses)[number];

export const reductions = ['sum', 'mean'] as const;
export type Reduction = (typeof reductions)[number];

/**
 * The curvature of a curvature-vector product: the Hessian of E, or the generalized Gauss-Newton matrix
 * J^T H_out J, which keeps only the loss's own curvature (in the logits where E is taken from them, else in
 * a_L) and drops every activation's g'' (PSD wherever H_out is).
 */
export const curvatures = ['hessian', 'gauss-newton'] as const;
export type Curvature = (typeof curvatures)[number];

export interface LossAndDelta {
  readonly loss: number;
  /** dE/dz, the shape of z. */
  readonly delta: Float64Array;
}

export interface LossEntry {
  readonly name: Loss;
  /** LaTeX for E over the elements of one sample. */
  readonly formula: string;
  /** Adds the element's terms of E (from a) to total; throws where a log meets a value <= 0 under weight != 0. */
  readonly addTerms: (total: CompensatedSum, a: number, t: number, index: number) => void;
  /** dE/da for one element (a vector activation then takes delta = J^T dE/da). */
  readonly gradient: (a: number, t: number) => number;
  /**
   * dE/da * g'(z) for one element, given slope = g'(z): the ratio g'/a first, so that a tiny a with an equally
   * tiny g' does not overflow where dE/da alone would.
   */
  readonly chain: (a: number, t: number, slope: number) => number;
  /** d^2E/da^2 for one element (a vector activation then takes J^T (d^2E/da^2 R{a}) as its R{delta}). */
  readonly curvature: (a: number, t: number) => number;
  /**
   * d^2E/dz^2 for one element of an elementwise g, given slope = g'(z) and second = g''(z):
   * E''(a) g'^2 + E'(a) g'' (second = 0 gives the Gauss-Newton part g' E''(a) g'), ratios to a first as in chain.
   */
  readonly secondChain: (a: number, t: number, slope: number, second: number) => number;
  /**
   * E and delta from the logits for an elementwise g, when the entry has the log forms this loss needs
   * (finite and accurate where a rounds to 0 or 1); undefined when it has not.
   */
  readonly elementwiseFromLogits?: (
    entry: ElementwiseActivation,
    params: Params,
    z: Float64Array,
    t: Float64Array,
  ) => LossAndDelta | undefined;
  /** d^2E/dz^2 per element from the logits, exactly where elementwiseFromLogits gives E and delta. */
  readonly elementwiseCurvatureFromLogits?: (
    entry: ElementwiseActivation,
    params: Params,
    z: Float64Array,
    t: Float64Array,
  ) => Float64Array | undefined;
  /** The same for a vector g (softmax with cross-entropy: log_softmax). */
  readonly vectorFromLogits?: (
    entry: VectorActivation,
    z: Float64Array,
    a: Float64Array,
    t: Float64Array,
    K: number,
  ) => LossAndDelta | undefined;
  /** (d^2E/dz^2) r per row from the logits (the derivative of delta along r), exactly where vectorFromLogits applies. */
  readonly vectorCurvatureFromLogits?: (
    entry: VectorActivation,
    z: Float64Array,
    a: Float64Array,
    t: Float64Array,
    r: Float64Array,
    K: number,
  ) => Float64Array | undefined;
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

const squaredError: LossEntry = {
  name: 'squared_error',
  formula: 'E = \\frac{1}{2} \\sum_k (a_k - t_k)^2',
  addTerms: (total, a, t) => {
    const r = a - t;
    total.add(0.5 * r * r);
  },
  gradient: (a, t) => a - t,
  chain: (a, t, slope) => (a - t) * slope,
  curvature: () => 1,
  secondChain: (a, t, slope, second) => slope * slope + (a - t) * second,
};

const crossEntropy: LossEntry = {
  name: 'cross_entropy',
  formula: 'E = -\\sum_k t_k \\log a_k',
  addTerms: (total, a, t, index) => {
    total.add(weightedMinusLog(t, a, `a[${index}]`, index));
  },
  gradient: (a, t) => (t !== 0 ? -t / a : 0),
  chain: (a, t, slope) => (t !== 0 ? -t * (slope / a) : 0),
  curvature: (a, t) => (t !== 0 ? t / a / a : 0),
  // t (g'/a)^2 - t g''/a.
  secondChain: (a, t, slope, second) => {
    if (t === 0) return 0;
    const r = slope / a;
    return t * (r * r - second / a);
  },
  // E = -t log g(z) and delta = -t (log g)'(z), from z.
  elementwiseFromLogits: ({ logForm }, params, z, t) => {
    if (!logForm) return undefined;
    const total = new CompensatedSum();
    const delta = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) {
      if (t[i] === 0) continue;
      total.add(-t[i] * logForm.forward(z[i], params));
      delta[i] = -t[i] * logForm.derivative(z[i], params);
    }
    return { loss: total.value, delta };
  },
  elementwiseCurvatureFromLogits: ({ logForm }, params, z, t) => {
    if (!logForm) return undefined;
    const out = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++)
      if (t[i] !== 0) out[i] = -t[i] * logForm.secondDerivative(z[i], params);
    return out;
  },
  // log a = log_softmax(z) for softmax; its VJP with v = dE/d(log a) = -t gives delta (softmax: a sum(t) - t).
  vectorFromLogits: ({ logForm }, z, a, t, K) => {
    if (!logForm) return undefined;
    const total = new CompensatedSum();
    const logA = new Float64Array(z.length);
    const dEdLogA = new Float64Array(z.length);
    logForm.forwardRows(z, K, logA);
    for (let i = 0; i < z.length; i++) {
      if (t[i] === 0) continue;
      total.add(-t[i] * logA[i]);
      dEdLogA[i] = -t[i];
    }
    assertFinite('loss', total.value);
    const delta = new Float64Array(z.length);
    logForm.backwardRows(z, a, dEdLogA, K, delta);
    return { loss: total.value, delta };
  },
  // delta = v^T d(log a)/dz with v = -t fixed: its derivative along r is the log form's directional term
  // (softmax: sum(t) (diag(p) - p p^T) r).
  vectorCurvatureFromLogits: ({ logForm }, z, a, t, r, K) => {
    if (!logForm) return undefined;
    const minusT = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) minusT[i] = -t[i];
    const out = new Float64Array(z.length);
    logForm.backwardDirectionalRows(z, a, minusT, r, K, out);
    return out;
  },
};

const binaryCrossEntropy: LossEntry = {
  name: 'binary_cross_entropy',
  formula: 'E = -\\sum_k \\big[t_k \\log a_k + (1 - t_k) \\log(1 - a_k)\\big]',
  addTerms: (total, a, t, index) => {
    total.add(weightedMinusLog(t, a, `a[${index}]`, index));
    total.add(weightedMinusLog(1 - t, 1 - a, `1 - a[${index}]`, index));
  },
  gradient: (a, t) => {
    const w0 = 1 - t;
    let d = 0;
    if (t !== 0) d -= t / a;
    if (w0 !== 0) d += w0 / (1 - a);
    return d;
  },
  chain: (a, t, slope) => {
    const w0 = 1 - t;
    let d = 0;
    if (t !== 0) d -= t * (slope / a);
    if (w0 !== 0) d += w0 * (slope / (1 - a));
    return d;
  },
  curvature: (a, t) => {
    const w0 = 1 - t;
    let c = 0;
    if (t !== 0) c += t / a / a;
    if (w0 !== 0) c += w0 / (1 - a) / (1 - a);
    return c;
  },
  // t ((g'/a)^2 - g''/a) + (1 - t) ((g'/(1 - a))^2 + g''/(1 - a)).
  secondChain: (a, t, slope, second) => {
    const w0 = 1 - t;
    let c = 0;
    if (t !== 0) {
      const r = slope / a;
      c += t * (r * r - second / a);
    }
    if (w0 !== 0) {
      const r = slope / (1 - a);
      c += w0 * (r * r + second / (1 - a));
    }
    return c;
  },
  // E = -[t log g(z) + (1 - t) log(1 - g(z))]; for sigmoid delta = -t sigma(-z) + (1 - t) sigma(z) = sigma(z) - t,
  // kept as two terms so that t = 1 at large z gives -sigma(-z), not 1 - 1 = 0.
  elementwiseFromLogits: ({ logForm, logComplementForm }, params, z, t) => {
    if (!logForm || !logComplementForm) return undefined;
    const total = new CompensatedSum();
    const delta = new Float64Array(z.length);
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
    return { loss: total.value, delta };
  },
  // -t (log g)'' - (1 - t) (log(1 - g))'': for sigmoid sigma(z) sigma(-z), whatever t.
  elementwiseCurvatureFromLogits: ({ logForm, logComplementForm }, params, z, t) => {
    if (!logForm || !logComplementForm) return undefined;
    const out = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) {
      const w1 = t[i];
      const w0 = 1 - t[i];
      let c = 0;
      if (w1 !== 0) c -= w1 * logForm.secondDerivative(z[i], params);
      if (w0 !== 0) c -= w0 * logComplementForm.secondDerivative(z[i], params);
      out[i] = c;
    }
    return out;
  },
};

export const lossTable: Readonly<Record<Loss, LossEntry>> = {
  squared_error: squaredError,
  cross_entropy: crossEntropy,
  binary_cross_entropy: binaryCrossEntropy,
};

/**
 * E and delta = dE/dz of one layer's output (rows of length K) under a loss, before any reduction: from the
 * logits where the activation has the log forms, else dE/da chained through g'(z) (elementwise) or J^T
 * (vector, through the entry's backwardRows, never building J).
 */
export function lossAndDelta(
  loss: Loss,
  activation: ElementwiseActivation | VectorActivation,
  params: Params,
  z: Float64Array,
  a: Float64Array,
  t: Float64Array,
  K: number,
): LossAndDelta {
  const entry = lossTable[loss];
  if (activation.kind === 'elementwise') {
    const fromLogits = entry.elementwiseFromLogits?.(activation, params, z, t);
    if (fromLogits) return fromLogits;
    const total = new CompensatedSum();
    const delta = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) {
      entry.addTerms(total, a[i], t[i], i);
      delta[i] = entry.chain(a[i], t[i], activation.derivative(z[i], params));
    }
    return { loss: total.value, delta };
  }
  const fromLogits = entry.vectorFromLogits?.(activation, z, a, t, K);
  if (fromLogits) return fromLogits;
  const total = new CompensatedSum();
  const dEda = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    entry.addTerms(total, a[i], t[i], i);
    dEda[i] = entry.gradient(a[i], t[i]);
  }
  assertFinite('delta', dEda);
  const delta = new Float64Array(z.length);
  activation.backwardRows(z, a, dEda, K, delta);
  return { loss: total.value, delta };
}

/** Applies the reduction in place: 'mean' divides E and every delta by N, the number of samples. */
export function reduce(result: LossAndDelta, reduction: Reduction, N: number): LossAndDelta {
  if (reduction === 'sum') return result;
  const { delta } = result;
  for (let i = 0; i < delta.length; i++) delta[i] /= N;
  return { loss: result.loss / N, delta };
}

/**
 * R{delta}: the derivative of delta = dE/dz_L (lossAndDelta, before any reduction) along the direction r = R{z_L}
 * of the last layer's z, ra = R{a_L} = J r. With 'gauss-newton' only J^T H_out J r: from the logits (where
 * lossAndDelta takes E from them) that is all of it, as delta depends on z_L alone; from a, the g'' (or a vector
 * g's second-order) term is dropped.
 */
export function deltaDirection(
  loss: Loss,
  activation: ElementwiseActivation | VectorActivation,
  params: Params,
  z: Float64Array,
  a: Float64Array,
  t: Float64Array,
  K: number,
  r: Float64Array,
  ra: Float64Array,
  curvature: Curvature,
): Float64Array {
  const entry = lossTable[loss];
  const hessian = curvature === 'hessian';
  if (activation.kind === 'elementwise') {
    const out = entry.elementwiseCurvatureFromLogits?.(activation, params, z, t);
    if (out) {
      for (let i = 0; i < z.length; i++) out[i] *= r[i];
      return out;
    }
    const result = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) {
      const slope = activation.derivative(z[i], params);
      const second = hessian ? activation.secondDerivative(z[i], params) : 0;
      result[i] = entry.secondChain(a[i], t[i], slope, second) * r[i];
    }
    return result;
  }
  const fromLogits = entry.vectorCurvatureFromLogits?.(activation, z, a, t, r, K);
  if (fromLogits) return fromLogits;
  // delta = J^T e with e = dE/da: R{delta} = J^T (E''(a) R{a}) + (the derivative of J^T e along r, e fixed).
  const curved = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) curved[i] = entry.curvature(a[i], t[i]) * ra[i];
  const out = new Float64Array(z.length);
  activation.backwardRows(z, a, curved, K, out);
  if (hessian) {
    const e = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) e[i] = entry.gradient(a[i], t[i]);
    const term = new Float64Array(z.length);
    activation.backwardDirectionalRows(z, a, e, r, K, term);
    for (let i = 0; i < z.length; i++) out[i] += term[i];
  }
  return out;
}
