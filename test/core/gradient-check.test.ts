/** The gradient checker's per-tensor measures and its allclose rule. */
import { describe, expect, it } from 'vitest';
import { checkTensor, unravel } from '../../src/core/gradient-check.js';

const tol = (rtol: number, atol = 0) => ({ rtol, atol });

describe('checkTensor', () => {
  it('uses |got - expected| <= atol + rtol |expected|, boundary included', () => {
    // expected 4, rtol 0.25: tolerance exactly 1 (all values exact in binary).
    expect(checkTensor('/g', [5], [4], [1], tol(0.25)).passed).toBe(true);
    expect(checkTensor('/g', [5.000000000000001], [4], [1], tol(0.25)).passed).toBe(false);
    // atol adds to the relative part: 0.5 + 0.125 * 4 = 1.
    expect(checkTensor('/g', [3], [4], [1], tol(0.125, 0.5)).passed).toBe(true);
    // Against a zero expected value only atol counts.
    expect(checkTensor('/g', [1e-300], [0], [1], tol(0.5)).passed).toBe(false);
    expect(checkTensor('/g', [1e-300], [0], [1], tol(0.5, 1e-299)).passed).toBe(true);
  });

  it('counts mismatches and reports the max absolute, relative and normwise errors', () => {
    const check = checkTensor(
      '/layers/0/weightGradient',
      [1, 2.5, 0, -8],
      [1, 2, 0.5, -10],
      [2, 2],
      tol(0.1),
    );
    expect(check).toMatchObject({
      path: '/layers/0/weightGradient',
      passed: false,
      mismatches: 3, // 2.5 vs 2 (0.5 > 0.2), 0 vs 0.5 (0.5 > 0.05), -8 vs -10 (2 > 1)
      maxAbsError: 2,
      maxRelError: 1, // 0 vs 0.5
      normwiseRelError: 0.2, // 2 / 10
    });
  });

  it('names the worst entry (furthest outside its tolerance) with its multi-index', () => {
    // ratios error/tolerance: 0.5/0.2 = 2.5, 0.5/0.05 = 10, 2/1 = 2: the second entry is worst.
    const check = checkTensor('/g', [2.5, 0, -8], [2, 0.5, -10], [3], tol(0.1));
    expect(check.mismatches).toBe(3);
    expect(check.worst).toEqual({ index: [1], expected: 0.5, got: 0 });
    const matrix = checkTensor('/g', [1, 1, 1, 1, 1, 9], [1, 1, 1, 1, 1, 1], [2, 3], tol(1e-7));
    expect(matrix.worst).toEqual({ index: [1, 2], expected: 1, got: 9 });
    expect(checkTensor('/loss', [3], [3], [], tol(0)).worst).toEqual({ index: [], expected: 3, got: 3 });
  });

  it('agreeing tensors pass with zero errors', () => {
    const check = checkTensor('/g', [1, -2, 0], [1, -2, 0], [3], tol(0));
    expect(check).toMatchObject({
      passed: true,
      mismatches: 0,
      maxAbsError: 0,
      maxRelError: 0,
      normwiseRelError: 0,
    });
  });

  it('with every expected entry 0, the relative error skips them and the normwise error is absolute', () => {
    const check = checkTensor('/g', [0, 1e-3], [0, 0], [2], tol(1e-7));
    expect(check).toMatchObject({ passed: false, mismatches: 1, maxRelError: 0, normwiseRelError: 1e-3 });
  });

  it('keeps every reported number finite (JSON has no Infinity)', () => {
    const huge = checkTensor('/g', [Number.MAX_VALUE], [-Number.MAX_VALUE], [1], tol(0));
    expect(huge.maxAbsError).toBe(Number.MAX_VALUE);
    const tiny = checkTensor('/g', [1e300], [5e-324], [1], tol(0));
    expect(Number.isFinite(tiny.maxRelError)).toBe(true);
    expect(Number.isFinite(tiny.normwiseRelError)).toBe(true);
  });

  it('refuses tensors of different lengths (a caller bug: routes answer 400 first)', () => {
    expect(() => checkTensor('/g', [1, 2], [1], [1], tol(0))).toThrow(RangeError);
  });
});

describe('unravel', () => {
  it('gives row-major multi-indices', () => {
    expect(unravel(0, [])).toEqual([]);
    expect(unravel(5, [6])).toEqual([5]);
    expect(unravel(5, [2, 3])).toEqual([1, 2]);
    expect(unravel(23, [2, 3, 4])).toEqual([1, 2, 3]);
  });
});
