/**
 * The packed matrix products of the output layer sum in the same order as the plain loops they replaced,
 * so they agree with them bit for bit, on every size (edges of the 4 x 4 tiles included).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { affine, timesTranspose, transposeTimes } from '../../src/core/numeric/matrix-products.js';

const data = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(seed + i * 1.618) * 3);

/** C[i][j] = sum over l (in order from 0) of A(i, l) B(l, j). */
function plain(
  I: number,
  J: number,
  L: number,
  a: (i: number, l: number) => number,
  b: (l: number, j: number) => number,
) {
  const out = new Float64Array(I * J);
  for (let i = 0; i < I; i++)
    for (let j = 0; j < J; j++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += a(i, l) * b(l, j);
      out[i * J + j] = s;
    }
  return out;
}

const sizes = fc.tuple(
  fc.integer({ min: 1, max: 11 }),
  fc.integer({ min: 1, max: 11 }),
  fc.integer({ min: 1, max: 11 }),
);

describe('output-layer matrix products', () => {
  it('x W + b, x^T delta and delta W^T equal the plain loops exactly', () => {
    fc.assert(
      fc.property(sizes, fc.integer(), ([N, M, K], seed) => {
        const x = data(N * M, seed);
        const weights = data(M * K, seed + 1);
        const bias = data(K, seed + 2);
        const delta = data(N * K, seed + 3);
        const z = plain(
          N,
          K,
          M,
          (n, j) => x[n * M + j],
          (j, k) => weights[j * K + k],
        );
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) z[n * K + k] += bias[k];
        expect(affine(x, weights, bias, N, M, K)).toEqual(z);
        expect(transposeTimes(x, delta, N, M, K)).toEqual(
          plain(
            M,
            K,
            N,
            (j, n) => x[n * M + j],
            (n, k) => delta[n * K + k],
          ),
        );
        expect(timesTranspose(delta, weights, N, K, M)).toEqual(
          plain(
            N,
            M,
            K,
            (n, k) => delta[n * K + k],
            (k, j) => weights[j * K + k],
          ),
        );
      }),
      { numRuns: 300 },
    );
  });
});
