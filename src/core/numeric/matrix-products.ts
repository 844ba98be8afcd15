/**
 * The dense-layer products of core (z = x W + b, x^T delta, delta W^T) over row-major Float64Arrays, and the
 * column sums of delta. Used by every dense layer: the output layer and each layer of a network.
 */

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

/** Column sums of an N x K matrix (the bias gradient). */
export function columnSums(delta: Float64Array, N: number, K: number): Float64Array {
  const out = new Float64Array(K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k] += delta[n * K + k];
  return out;
}
