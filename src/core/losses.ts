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
  /** The same for a vector g (softmax with cross-entropy: log_softmax). */
  readonly vectorFromLogits?: (
    entry: VectorActivation,
    z: Float64Array,
    a: Float64Array,
    t: Float64Array,
    K: number,
  ) => LossAndDelta | undefined;
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
};

const crossEntropy: LossEntry = {
  name: 'cross_entropy',
  formula: 'E = -\\sum_k t_k \\log a_k',
  addTerms: (total, a, t, index) => {
    total.add(weightedMinusLog(t, a, `a[${index}]`, index));
  },
  gradient: (a, t) => (t !== 0 ? -t / a : 0),
  chain: (a, t, slope) => (t !== 0 ? -t * (slope / a) : 0),
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
