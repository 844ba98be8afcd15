/**
 * softmax, log_softmax, the softmax Jacobian and the VJPs against the mpmath golden vectors (softmax.json).
 * Bounds: relative entrywise, with |reference| floored at 2^-1022 (see test/support/compare.ts), so where the
 * reference is 0 or subnormal the bound is absolute: 1e-14 * 2^-1022 (about 45 subnormal ulps) for
 * probabilities and log_softmax, 1e-13 * 2^-1022 for Jacobian entries and VJPs.
 */
import { describe, expect, it } from 'vitest';
import { findActivation } from '../../src/core/activations/index.js';
import {
  checkProbabilities,
  logSoftmaxRows,
  softmaxJacobian,
  softmaxRows,
  softmaxVjp,
} from '../../src/core/softmax.js';
import { DBL_MIN, flat, type Worst, worstRatio, worstRelative } from '../support/compare.js';
import { goldenSoftmax } from '../support/golden.js';

const golden = goldenSoftmax();
const allCases = [
  ...golden.cases.map((c) => [`${c.name}`, c] as const),
  ...golden.batch_cases.map((c) => [`batch: ${c.name}`, c] as const),
];

const softmaxEntry = findActivation('softmax');
const logSoftmaxEntry = findActivation('log_softmax');

function describeWorst(w: Worst): string {
  return `worst at [${w.index}]: got ${w.got}, want ${w.want} (${w.ratio.toExponential(2)} of the bound)`;
}

/** The VJP bound of the issue: tol * a_i (|v_i| + sum_j |v_j| a_j) per row, floored at tol * 2^-1022. */
function vjpBound(a: Float64Array, v: Float64Array, K: number, tol: number): (i: number) => number {
  return (i) => {
    const base = i - (i % K);
    let weighted = 0;
    for (let j = 0; j < K; j++) weighted += Math.abs(v[base + j]) * a[base + j];
    return tol * Math.max(a[i] * (Math.abs(v[i]) + weighted), DBL_MIN);
  };
}

/** The log_softmax VJP v - p sum(v): tol * (|v_i| + p_i sum_j |v_j|), floored likewise. */
function logSoftmaxVjpBound(p: Float64Array, v: Float64Array, K: number, tol: number): (i: number) => number {
  return (i) => {
    const base = i - (i % K);
    let total = 0;
    for (let j = 0; j < K; j++) total += Math.abs(v[base + j]);
    return tol * Math.max(Math.abs(v[i]) + p[i] * total, DBL_MIN);
  };
}

describe('the table has the vector activations', () => {
  it('softmax and log_softmax are vector entries', () => {
    expect(softmaxEntry?.kind).toBe('vector');
    expect(logSoftmaxEntry?.kind).toBe('vector');
  });
});

describe.each(allCases)('%s', (_label, c) => {
  const K = c.K;
  const z = flat(c.logits);
  const p = flat(c.probabilities);
  const v = flat(c.v);

  it('softmax is within 1e-14 relative entrywise', () => {
    const worst = worstRelative(softmaxRows(z, K), p, 1e-14);
    expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
  });

  it('log_softmax is within 1e-14 relative entrywise', () => {
    const worst = worstRelative(logSoftmaxRows(z, K), flat(c.log_softmax), 1e-14);
    expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
  });

  it('the table entries compute the same rows as the kernels', () => {
    if (softmaxEntry?.kind !== 'vector' || logSoftmaxEntry?.kind !== 'vector')
      throw new Error('not in table');
    const a = new Float64Array(z.length);
    softmaxEntry.forwardRows(z, K, a);
    expect(a).toEqual(softmaxRows(z, K));
    const logA = new Float64Array(z.length);
    logSoftmaxEntry.forwardRows(z, K, logA);
    expect(logA).toEqual(logSoftmaxRows(z, K));
  });

  for (const from of ['z', 'a'] as const) {
    const input = from === 'z' ? z : p;

    it(`Jacobian from ${from} is within 1e-13 relative entrywise`, () => {
      const { a, jacobian } = softmaxJacobian(input, K, from);
      const worst = worstRelative(jacobian, flat(c.jacobian), 1e-13);
      expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
      expect(a).toEqual(from === 'z' ? softmaxRows(z, K) : p);
    });

    it(`VJP from ${from} is within 1e-13 * a_i (|v_i| + sum_j |v_j| a_j)`, () => {
      const { a, gradient } = softmaxVjp(input, v, K, from);
      const worst = worstRatio(gradient, flat(c.vjp), vjpBound(p, v, K, 1e-13));
      expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
      expect(a).toEqual(from === 'z' ? softmaxRows(z, K) : p);
    });
  }

  it("softmax entry's backwardRows is the VJP within the same bound", () => {
    if (softmaxEntry?.kind !== 'vector') throw new Error('softmax is not a vector entry');
    const out = new Float64Array(z.length);
    softmaxEntry.backwardRows(z, softmaxRows(z, K), v, K, out);
    const worst = worstRatio(out, flat(c.vjp), vjpBound(p, v, K, 1e-13));
    expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
  });

  it("log_softmax entry's backwardRows is v - p sum(v) within 1e-13 (|v_i| + p_i sum_j |v_j|)", () => {
    if (logSoftmaxEntry?.kind !== 'vector') throw new Error('log_softmax is not a vector entry');
    const out = new Float64Array(z.length);
    logSoftmaxEntry.backwardRows(z, logSoftmaxRows(z, K), v, K, out);
    const worst = worstRatio(out, flat(c.log_softmax_vjp), logSoftmaxVjpBound(p, v, K, 1e-13));
    expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
  });

  it("softmax entry's log form is log_softmax and its VJP", () => {
    if (softmaxEntry?.kind !== 'vector' || !softmaxEntry.logForm) throw new Error('softmax has no log form');
    const logA = new Float64Array(z.length);
    softmaxEntry.logForm.forwardRows(z, K, logA);
    expect(logA).toEqual(logSoftmaxRows(z, K));
    const out = new Float64Array(z.length);
    softmaxEntry.logForm.backwardRows(z, softmaxRows(z, K), v, K, out);
    const worst = worstRatio(out, flat(c.log_softmax_vjp), logSoftmaxVjpBound(p, v, K, 1e-13));
    expect(worst.ratio, describeWorst(worst)).toBeLessThanOrEqual(1);
  });

  it('the reference probabilities pass checkProbabilities', () => {
    expect(checkProbabilities(p, K)).toBeUndefined();
  });
});

describe('softmax kernels', () => {
  it('stay finite and exact at the extremes of float64', () => {
    const z = Float64Array.of(Number.MAX_VALUE, -Number.MAX_VALUE, 0);
    expect(Array.from(softmaxRows(z, 3))).toEqual([1, 0, 0]);
    const logA = logSoftmaxRows(z, 3);
    expect(logA[0]).toBe(-0);
    // z_1 - max z is below -MAX_VALUE: the true log_softmax is not a float64, and the kernel says so.
    expect(logA[1]).toBe(Number.NEGATIVE_INFINITY);
    expect(logA[2]).toBe(-Number.MAX_VALUE);
  });

  it('log_softmax of the dominant entry is -log1p(sum of the others), not 0', () => {
    const logA = logSoftmaxRows(Float64Array.of(40, 0), 2);
    expect(logA[0]).toBe(-Math.log1p(Math.exp(-40)));
    expect(logA[0]).toBeLessThan(0);
  });

  it('write into out, which may be the input itself', () => {
    const z = Float64Array.of(1, 2, 3, -1, 0, 1);
    const expected = softmaxRows(z, 3);
    const same = z.slice();
    expect(softmaxRows(same, 3, same)).toBe(same);
    expect(same).toEqual(expected);
    const logExpected = logSoftmaxRows(z, 3);
    const logSame = z.slice();
    logSoftmaxRows(logSame, 3, logSame);
    expect(logSame).toEqual(logExpected);
  });

  it('reject data that is not whole rows of length K', () => {
    expect(() => softmaxRows(new Float64Array(5), 2)).toThrow(RangeError);
    expect(() => softmaxJacobian(new Float64Array(4), 0, 'z')).toThrow(RangeError);
    expect(() => softmaxVjp(new Float64Array(4), new Float64Array(2), 2, 'z')).toThrow(RangeError);
  });
});

describe('checkProbabilities', () => {
  it('names the row and entry of a negative or > 1 value', () => {
    expect(checkProbabilities(Float64Array.of(0.5, 0.5, 1.2, -0.2), 2)).toMatchObject({ row: 1, col: 0 });
    expect(checkProbabilities(Float64Array.of(-0.1, 1.1, 0.5, 0.5), 2)).toMatchObject({ row: 0, col: 0 });
    expect(checkProbabilities(Float64Array.of(0.5, 0.5, 0.2, -0.2), 2)).toMatchObject({ row: 1, col: 1 });
  });

  it('names the row whose sum is far from 1', () => {
    const problem = checkProbabilities(Float64Array.of(0.5, 0.5, 0.25, 0.25), 2);
    expect(problem).toMatchObject({ row: 1 });
    expect(problem?.col).toBeUndefined();
    expect(problem?.message).toMatch(/sum/);
  });

  it('accepts probabilities rounded to float32', () => {
    const p = softmaxRows(Float64Array.of(0.3, -1.7, 2.2, 0.01, 5), 5);
    expect(checkProbabilities(Float64Array.from(Float32Array.from(p)), 5)).toBeUndefined();
  });
});
