/**
 * Softmax kernels over rows of length K (row-major Float64Array, length = rows * K): softmax, log_softmax,
 * the Jacobian a_i (delta_ij - a_j) and the vector-Jacobian products of softmax and log_softmax.
 *
 * Accuracy: every output is within a few ulps of the exact value computed from the float64 inputs,
 * including rows where one probability dominates. Three identities carry that:
 * - z_j - max(z) is computed as a double-double (TwoSum) and its low part folded into the exponential,
 *   so a_j keeps its relative accuracy even when the logits differ by hundreds;
 * - 1 - a_m for the dominant entry is the sum of the other probabilities, never 1 minus a rounded 1;
 * - when a_m >= 1/2, v_i - sum_j a_j v_j is rewritten as (v_i - v_m) + sum_{j != m} a_j (v_m - v_j)
 *   (true because the probabilities sum to 1), so it does not cancel when a_m is close to 1.
 */
import type { RowProblem } from './activations/types.js';
import { CompensatedSum } from './numeric/compensated-sum.js';

/** Throws when data cannot be split into rows of length K (a caller bug: routes check shapes first). */
function rowCount(length: number, K: number): number {
  if (!Number.isInteger(K) || K < 1 || length % K !== 0)
    throw new RangeError(`softmax: length ${length} is not a whole number of rows of length ${K}`);
  return length / K;
}

/** Index of the largest entry of x[base .. base + K) (the first one on ties). */
function argmaxRow(x: Float64Array, base: number, K: number): number {
  let m = 0;
  let best = x[base];
  for (let j = 1; j < K; j++) {
    if (x[base + j] > best) {
      best = x[base + j];
      m = j;
    }
  }
  return m;
}

/**
 * exp(z_j - zMax) for z_j <= zMax. The subtraction is done as TwoSum: d + err = z_j - zMax exactly, and
 * exp(d + err) = exp(d) (1 + err) to first order, because a rounding error of ulp(d)/2 in d (up to 1e-13
 * when |d| ~ 1000) would otherwise become a relative error of the same size in the probability.
 */
function expShifted(zj: number, zMax: number): number {
  const d = zj - zMax;
  if (d === Number.NEGATIVE_INFINITY) return 0; // |z_j - zMax| > MAX_VALUE: exp underflows anyway
  const back = d - zj;
  const err = zj - (d - back) + (-zMax - back);
  const e = Math.exp(d);
  return e + e * err;
}

/** The same shift as log(exp(z_j - zMax)), i.e. z_j - zMax with its TwoSum low part added last. */
function logShifted(zj: number, zMax: number, minusLogSum: number): number {
  const d = zj - zMax;
  if (d === Number.NEGATIVE_INFINITY) return d; // the true value is below -MAX_VALUE: callers check finiteness
  const back = d - zj;
  const err = zj - (d - back) + (-zMax - back);
  // d and minusLogSum are both <= 0, so their sum does not cancel.
  return d + minusLogSum + err;
}

/**
 * Softmax of each row: a_j = e^(z_j - m) / (1 + sum_{j != argmax} e^(z_j - m)), m = max z. Never overflows;
 * out may be z itself.
 */
export function softmaxRows(
  z: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(z.length),
): Float64Array {
  const rows = rowCount(z.length, K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const m = argmaxRow(z, base, K);
    const zMax = z[base + m];
    const others = new CompensatedSum();
    for (let j = 0; j < K; j++) {
      if (j === m) continue;
      const e = expShifted(z[base + j], zMax);
      out[base + j] = e;
      others.add(e);
    }
    const total = 1 + others.value;
    for (let j = 0; j < K; j++) out[base + j] = j === m ? 1 / total : out[base + j] / total;
  }
  return out;
}

/**
 * log_softmax of each row: (z_j - m) - log1p(sum_{j != argmax} e^(z_j - m)). The dominant entry is
 * -log1p(...) (tiny, not 0) and no entry goes through log(a), so rows with a_j far below the float64 range
 * stay exact. An entry is -Infinity only where z_j - m itself overflows (true value below -MAX_VALUE).
 * out may be z itself.
 */
export function logSoftmaxRows(
  z: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(z.length),
): Float64Array {
  const rows = rowCount(z.length, K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const m = argmaxRow(z, base, K);
    const zMax = z[base + m];
    const others = new CompensatedSum();
    for (let j = 0; j < K; j++) if (j !== m) others.add(expShifted(z[base + j], zMax));
    const minusLogSum = -Math.log1p(others.value);
    for (let j = 0; j < K; j++) {
      out[base + j] = j === m ? minusLogSum : logShifted(z[base + j], zMax, minusLogSum);
    }
  }
  return out;
}

/** Sum of a[base + j] over j != m (Neumaier): 1 - a_m without the cancellation when a_m is near 1. */
function sumOthers(a: Float64Array, base: number, K: number, m: number): number {
  const others = new CompensatedSum();
  for (let j = 0; j < K; j++) if (j !== m) others.add(a[base + j]);
  return others.value;
}

/**
 * v_i - sum_j a_j v_j per row, the centring both softmax VJPs scale. When the largest probability a_m >= 1/2 it
 * is (v_i - v_m) + c with c = sum_{j != m} a_j (v_m - v_j), which needs sum_j a_j = 1 and does not cancel where
 * a_m ~ 1 (the m-th entry is c itself, e.g. ~1e-63 instead of 0). out may be v itself.
 */
function centredRows(a: Float64Array, v: Float64Array, K: number, out: Float64Array): void {
  const rows = rowCount(a.length, K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const m = argmaxRow(a, base, K);
    const sum = new CompensatedSum();
    if (a[base + m] >= 0.5) {
      const vm = v[base + m];
      for (let j = 0; j < K; j++) if (j !== m) sum.add(a[base + j] * (vm - v[base + j]));
      const c = sum.value;
      for (let i = 0; i < K; i++) out[base + i] = i === m ? c : v[base + i] - vm + c;
    } else {
      for (let j = 0; j < K; j++) sum.add(a[base + j] * v[base + j]);
      const s = sum.value;
      for (let i = 0; i < K; i++) out[base + i] = v[base + i] - s;
    }
  }
}

/**
 * v^T J per row from the probabilities a (J = diag(a) - a a^T, symmetric), in O(K) per row:
 * out_i = a_i (v_i - sum_j a_j v_j), the centring in centredRows' accurate form (full relative accuracy where
 * a_m ~ 1, e.g. out_m = a_m c ~ 1e-63 instead of 0). out may be v itself.
 */
export function softmaxVjpRows(
  a: Float64Array,
  v: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(a.length),
): Float64Array {
  if (v.length !== a.length)
    throw new RangeError(`softmax vjp: v has ${v.length} entries, a has ${a.length}`);
  centredRows(a, v, K, out);
  for (let i = 0; i < out.length; i++) out[i] *= a[i];
  return out;
}

/**
 * v^T J of log_softmax per row, from the probabilities p = softmax(z): out_i = v_i - p_i sum_j v_j, in O(K).
 * When p_m >= 1/2, out_m = v_m - p_m V is rewritten as -(sum_{j != m} v_j) + V sum_{j != m} p_j, so the
 * cross-entropy delta p_m - 1 of a confident correct class keeps its digits. out may be v itself.
 */
export function logSoftmaxVjpRows(
  p: Float64Array,
  v: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(p.length),
): Float64Array {
  const rows = rowCount(p.length, K);
  if (v.length !== p.length)
    throw new RangeError(`log_softmax vjp: v has ${v.length} entries, p has ${p.length}`);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const m = argmaxRow(p, base, K);
    const vOthers = sumOthers(v, base, K, m);
    const vm = v[base + m];
    const total = vOthers + vm;
    const outM = p[base + m] >= 0.5 ? total * sumOthers(p, base, K, m) - vOthers : vm - p[base + m] * total;
    for (let i = 0; i < K; i++) out[base + i] = v[base + i] - p[base + i] * total;
    out[base + m] = outM;
  }
  return out;
}

/**
 * The second-order term of softmax's VJP (the network's curvature product through a softmax layer): the
 * derivative of v^T J(z) along a direction r of z with v held fixed, per row, from the probabilities a and
 * their directional derivative ra = J r (softmaxVjpRows(a, r): J is symmetric). From (v^T J)_i = a_i (v_i - s),
 * s = sum_j a_j v_j: out_i = ra_i (v_i - s) - a_i sum_j ra_j v_j, with v_i - s from centredRows.
 */
export function softmaxVjpDirectionalRows(
  a: Float64Array,
  ra: Float64Array,
  v: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(a.length),
): Float64Array {
  const rows = rowCount(a.length, K);
  if (v.length !== a.length || ra.length !== a.length)
    throw new RangeError(`softmax vjp directional: ${a.length}, ${ra.length} and ${v.length} entries`);
  const centred = new Float64Array(a.length);
  centredRows(a, v, K, centred);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const raDotV = new CompensatedSum();
    for (let j = 0; j < K; j++) raDotV.add(ra[base + j] * v[base + j]);
    const q = raDotV.value;
    for (let i = 0; i < K; i++) out[base + i] = ra[base + i] * centred[base + i] - a[base + i] * q;
  }
  return out;
}

/** J r of log_softmax per row (its directional derivative along r), from p = softmax(z): r_i - sum_j p_j r_j. */
export function logSoftmaxJvpRows(
  p: Float64Array,
  r: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(p.length),
): Float64Array {
  const rows = rowCount(p.length, K);
  if (r.length !== p.length)
    throw new RangeError(`log_softmax jvp: r has ${r.length} entries, p has ${p.length}`);
  for (let row = 0; row < rows; row++) {
    const base = row * K;
    const sum = new CompensatedSum();
    for (let j = 0; j < K; j++) sum.add(p[base + j] * r[base + j]);
    const s = sum.value;
    for (let i = 0; i < K; i++) out[base + i] = r[base + i] - s;
  }
  return out;
}

/**
 * The second-order term of log_softmax's VJP: (v^T J)_i = v_i - p_i sum_j v_j, so along r with v fixed it is
 * -(sum_j v_j) (J_softmax r)_i, the softmax JVP from p (cross-entropy from the logits: v = -t gives
 * sum(t) (diag(p) - p p^T) r, the loss's Hessian in z times r).
 */
export function logSoftmaxVjpDirectionalRows(
  p: Float64Array,
  v: Float64Array,
  r: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(p.length),
): Float64Array {
  const rows = rowCount(p.length, K);
  softmaxVjpRows(p, r, K, out);
  for (let row = 0; row < rows; row++) {
    const base = row * K;
    const sum = new CompensatedSum();
    for (let j = 0; j < K; j++) sum.add(v[base + j]);
    const scale = -sum.value;
    for (let i = 0; i < K; i++) out[base + i] *= scale;
  }
  return out;
}

/**
 * The Jacobian of every row from the probabilities p = softmax(z), rows * K * K row-major:
 * out[r*K*K + i*K + j] = s_i (delta_ij - p_j), where s_i = p_i for softmax (d a_i / d z_j) and s_i = 1 for
 * log_softmax (d log a_i / d z_j). The dominant entry's diagonal factor 1 - p_m (p_m >= 1/2) is the sum of
 * the other probabilities, so it keeps its digits when p_m is close to 1. With s_i = 1 every product is
 * exact, so both Jacobians are what their own formulas give, bit for bit.
 */
function jacobianRows(
  p: Float64Array,
  K: number,
  out: Float64Array,
  rowsScaledByOutput: boolean,
): Float64Array {
  const rows = rowCount(p.length, K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const m = argmaxRow(p, base, K);
    const complementOfMax = p[base + m] >= 0.5 ? sumOthers(p, base, K, m) : 1 - p[base + m];
    const block = r * K * K;
    for (let i = 0; i < K; i++) {
      const scale = rowsScaledByOutput ? p[base + i] : 1;
      const rowStart = block + i * K;
      for (let j = 0; j < K; j++) out[rowStart + j] = -(scale * p[base + j]);
      // For i != m, p_i <= 1/2, so 1 - p_i does not cancel.
      out[rowStart + i] = scale * (i === m ? complementOfMax : 1 - p[base + i]);
    }
  }
  return out;
}

/** The softmax Jacobian of every row from the probabilities a: out[r*K*K + i*K + j] = a_i (delta_ij - a_j). */
export const softmaxJacobianRows = (
  a: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(a.length * K),
): Float64Array => jacobianRows(a, K, out, true);

/** The log_softmax Jacobian of every row from p = softmax(z): out[r*K*K + i*K + j] = delta_ij - p_j. */
export const logSoftmaxJacobianRows = (
  p: Float64Array,
  K: number,
  out: Float64Array = new Float64Array(p.length * K),
): Float64Array => jacobianRows(p, K, out, false);

/**
 * The softmax Jacobian of every row, rows * K * K row-major: jacobian[r*K*K + i*K + j] = a_i (delta_ij - a_j).
 * `from: 'a'` means input already holds probabilities (see checkProbabilities); 'z' means logits.
 */
export function softmaxJacobian(
  input: Float64Array,
  K: number,
  from: 'z' | 'a',
): { a: Float64Array; jacobian: Float64Array } {
  rowCount(input.length, K);
  const a = from === 'z' ? softmaxRows(input, K) : Float64Array.from(input);
  return { a, jacobian: softmaxJacobianRows(a, K) };
}

/** gradient = v^T J per row, in O(K) per row, without building J. */
export function softmaxVjp(
  input: Float64Array,
  v: Float64Array,
  K: number,
  from: 'z' | 'a',
): { a: Float64Array; gradient: Float64Array } {
  rowCount(input.length, K);
  if (v.length !== input.length)
    throw new RangeError(`softmax vjp: v has ${v.length} entries, the input has ${input.length}`);
  const a = from === 'z' ? softmaxRows(input, K) : Float64Array.from(input);
  return { a, gradient: softmaxVjpRows(a, v, K) };
}

/**
 * How far a row's sum may be from 1: float32-computed probabilities pass (each entry within 2^-24 relatively,
 * and a K-term float32 sum), with a floor of 1e-6.
 */
export function probabilitySumTolerance(K: number): number {
  return Math.max(1e-6, K * 2 ** -24);
}

/**
 * Checks that every row of a holds probabilities: entries in [0, 1] and a sum within
 * probabilitySumTolerance(K) of 1. The kernels need nothing of the kind (a_i (delta_ij - a_j) is defined for
 * any a), but a Jacobian "of softmax" at a point that is no softmax output is meaningless, and the
 * accurate forms above use sum_j a_j = 1. Returns the first problem, or undefined.
 */
export function checkProbabilities(a: Float64Array, K: number): RowProblem | undefined {
  const rows = rowCount(a.length, K);
  const tolerance = probabilitySumTolerance(K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    let sum = 0;
    for (let j = 0; j < K; j++) {
      const x = a[base + j];
      if (!(x >= 0 && x <= 1))
        return { row: r, col: j, message: `probabilities must be in [0, 1], got ${x}` };
      sum += x;
    }
    if (Math.abs(sum - 1) > tolerance)
      return {
        row: r,
        message: `probabilities of a row must sum to 1 (within ${tolerance}), this row sums to ${sum}`,
      };
  }
  return undefined;
}

/**
 * Checks that every row of a is the log of a probability vector (a log_softmax output): entries <= 0 and
 * sum exp(a) within probabilitySumTolerance(K) of 1. Returns the first problem, or undefined.
 */
export function checkLogProbabilities(a: Float64Array, K: number): RowProblem | undefined {
  const rows = rowCount(a.length, K);
  const tolerance = probabilitySumTolerance(K);
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    let sum = 0;
    for (let j = 0; j < K; j++) {
      const x = a[base + j];
      if (!(x <= 0)) return { row: r, col: j, message: `log-probabilities must be <= 0, got ${x}` };
      sum += Math.exp(x);
    }
    if (Math.abs(sum - 1) > tolerance)
      return {
        row: r,
        message: `the exponentials of a row of log-probabilities must sum to 1 (within ${tolerance}), this row's sum to ${sum}`,
      };
  }
  return undefined;
}

/** exp of every entry: probabilities from log-probabilities (relative error about |a_j| ulps). */
export function expRows(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.exp(a[i]);
  return out;
}
