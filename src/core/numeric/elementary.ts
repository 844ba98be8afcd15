/**
 * Float64 kernels shared by the exp/log activations, each within a few ulp of the exact value over the
 * whole float64 range (subnormal results included) and never overflowing where the true value is finite.
 * V8's Math.exp, Math.expm1 and Math.log1p are within 1 ulp; Math.tanh is not (2 ulp near |z| ~ 0.4),
 * hence the tanh below.
 */

import { type DD, ddDiv, ddMul, ldexp, productError } from './double-double.js';

const TWO_POW_520 = 2 ** 520;
const TWO_POW_600 = 2 ** 600;

/**
 * The low part of the product a * b rounded to p: a * b = p + productLow(a, b, p). Only where it
 * matters for e^p, 1/4 <= |p| <= 2^11 (exp amplifies the rounding of p by |p|); 0 elsewhere.
 */
export function productLow(a: number, b: number, p: number): number {
  const size = Math.abs(p);
  if (!(size >= 0.25 && size <= 2 ** 11)) return 0;
  // |a b| <= 2^11, so a factor beyond 2^500 comes with one below 2^-489: rescale both by 2^520, exactly,
  // so that the split cannot overflow.
  if (Math.abs(a) > 2 ** 500) return productError(a / TWO_POW_520, b * TWO_POW_520, p);
  if (Math.abs(b) > 2 ** 500) return productError(a * TWO_POW_520, b / TWO_POW_520, p);
  return productError(a, b, p);
}

/**
 * The low part of the quotient n / d rounded to q: n / d = q + quotientLow(n, d, q) (to about 2^-104
 * relative), for 2^-400 <= |q| <= 2^11 (above, e^-|q| is 0; below, the callers have returned before
 * needing it); 0 elsewhere.
 */
export function quotientLow(n: number, d: number, q: number): number {
  const size = Math.abs(q);
  if (!(size >= 2 ** -400 && size <= 2 ** 11)) return 0;
  // Scaling n and d by the same power of two leaves q alone and keeps the split and its partial products
  // away from overflow and underflow.
  if (Math.abs(n) > 2 ** 500) {
    n /= TWO_POW_600;
    d /= TWO_POW_600;
  } else if (Math.abs(n) < 2 ** -500) {
    n *= TWO_POW_600;
    d *= TWO_POW_600;
  }
  const p = q * d;
  // n - p is exact (p is within a few ulp of n); the remainder n - q d over d is the missing part of q.
  return (n - p - productError(q, d, p)) / d;
}

/** Exponents inside which Dekker's split cannot overflow nor its partial products underflow. */
const inSplitRange = (x: number): boolean => {
  const size = Math.abs(x);
  return size > 2 ** -450 && size < 2 ** 450;
};

/**
 * (hi + lo) / d rounded once (|lo| at most a few ulp of hi): the quotient corrected by its exact
 * remainder, instead of rounding hi + lo and then the quotient. Falls back to one plain division at
 * extreme exponents.
 */
export function divideOnce(hi: number, lo: number, d: number): number {
  const q = hi / d;
  if (!(inSplitRange(q) && inSplitRange(d))) return (hi + lo) / d;
  const p = q * d;
  // hi - p is exact: p is within an ulp of hi.
  return q + (hi - p - productError(q, d, p) + lo) / d;
}

/** c * (hi + lo) rounded once (|lo| at most a few ulp of hi); one plain product at extreme exponents. */
export function multiplyOnce(c: number, hi: number, lo: number): number {
  const p = c * hi;
  if (!(inSplitRange(c) && inSplitRange(hi))) return c * (hi + lo);
  return p + (productError(c, hi, p) + c * lo);
}

/**
 * c * e^(x + xLo), with |xLo| at most about ulp(x) (the low part of a product or quotient rounded to x).
 * e^(x + xLo) = e^x (1 + xLo) to within xLo^2. Below x = log(2^-1022) = -708.396 e^x is subnormal and
 * has lost relative precision before the scaling by c; there it is computed as (c e^(x/2)) e^(x/2),
 * rounding into the subnormal range only once (2 ulp at worst where c e^x is still normal).
 */
export function scaledExp(c: number, x: number, xLo = 0): number {
  if (x >= -708.39 || (c === 1 && xLo === 0)) {
    const e = Math.exp(x);
    return c * (e + e * xLo);
  }
  const half = Math.exp(x / 2);
  return c * (half + half * xLo) * half;
}

/** n / (s + sLo) with a single rounding: one quotient corrected by its exact remainder (1 <= s <= 2). */
function overSum(n: number, s: number, sLo: number): number {
  const q = n / s;
  const p = q * s;
  return q + (n - p - productError(q, s, p) - q * sLo) / s;
}

/**
 * The logistic function 1/(1 + e^-(z + zLo)) from E = e^-|z| <= 1, so that nothing overflows;
 * zLo is the low part of an argument that was rounded to z (softplus with beta != 1). 1 + E is carried
 * in double-double, so only e^-|z| and the last rounding contribute errors.
 */
export function logistic(z: number, zLo = 0): number {
  const e = z >= 0 ? scaledExp(1, -z, -zLo) : scaledExp(1, z, zLo);
  // 1/(1 + E) = 1 - E + ... rounds to 1, E/(1 + E) to E.
  if (e < 2 ** -54) return z >= 0 ? 1 : e;
  const s = 1 + e;
  return overSum(z >= 0 ? 1 : e, s, e - (s - 1));
}

/**
 * n / (s + sLo)^2 with a single rounding at the end: the square as a double-double, then one quotient
 * corrected by its exact remainder. For 1 <= s <= 2^26 and n >= 2^-60 (no partial product underflows).
 */
export function overSquare(n: number, s: number, sLo: number): number {
  const square = s * s;
  const squareLo = productError(s, s, square) + 2 * s * sLo;
  const q = n / square;
  const p = q * square;
  return q + (n - p - productError(q, square, p) - q * squareLo) / square;
}

/**
 * sigma'(z) = sigma(z) sigma(-z) = E / (1 + E)^2 with E = e^-|z|: keeps full relative precision out to
 * z = -745 and beyond, where a(1 - a) from a rounded a is 0 (from |z| ~ 37 on). 1 + E and its square
 * are carried in double-double so that only e^-|z| and the last rounding contribute errors.
 */
export function logisticDerivative(z: number, zLo = 0): number {
  // zLo: the low part of an argument rounded to z (softplus with beta != 1), which e^-|z| would amplify by |z|.
  const e = zLo === 0 ? Math.exp(-Math.abs(z)) : scaledExp(1, -Math.abs(z), z < 0 ? zLo : -zLo);
  // (1 + E)^-2 = 1 - 2E + ... rounds to 1 here.
  if (e < 2 ** -54) return e;
  const s = 1 + e;
  return overSquare(e, s, e - (s - 1));
}

/**
 * sigma''(z) = sigma(z) sigma(-z) (1 - 2 sigma(z)) = -sigma'(z) tanh(z/2). The textbook a(1-a)(1-2a) cancels in
 * 1 - 2a near z = 0 (a rounds to 1/2: PyTorch gives 0 at z = 1e-300) and in 1 - a where a rounds to 1 (|z| > 37);
 * tanh(z/2) keeps its relative precision at 0 and sigma'(z) its own out to z = -745, so the product of the two
 * kernels (each within about an ulp) is rounded once more and nothing cancels. Below |z| = 2^-60 it is -z/8 (the
 * z^3 term is below 2^-120 relative), which also keeps subnormal z, where z/2 would round.
 */
export function logisticSecondDerivative(z: number): number {
  if (Math.abs(z) < 2 ** -60) return -0.125 * z;
  return -logisticDerivative(z) * tanh(0.5 * z);
}

// (z - tanh z) / z^3 = R(w), w = z^2, on 0 <= w <= 1: Chebyshev fit (mpmath, 60 digits) of degree 16,
// absolute error 4e-19 (R lies in [0.238, 1/3]). The constant is split in two so that R keeps its last bit.
const R0_HI = 0.3333333333333333;
const R0_LO = 1.810087504810639e-17;
const R_COEFFICIENTS = [
  -0.1333333333333331, 0.053968253968231523, -0.021869488535296695, 0.008863235512566054,
  -0.003592127823422879, 0.0014558326516768139, -0.0005900175685254319, 0.0002390884367049363,
  -9.67910218266933e-5, 3.8991741215043214e-5, -1.541627724102249e-5, 5.777484136865915e-6,
  -1.9216974143833895e-6, 5.122767150793262e-7, -9.364144622965759e-8, 8.538161901212156e-9,
] as const;

/** R(w) - R0_HI. */
function tanhDeficitRatioTail(w: number): number {
  const c = R_COEFFICIENTS;
  let q = c[15];
  for (let k = 14; k >= 0; k--) q = q * w + c[k];
  return R0_LO + w * q;
}

function tanhDeficitRatio(w: number): number {
  return R0_HI + tanhDeficitRatioTail(w);
}

/**
 * z - tanh z (tanhshrink). For |z| < 1 the difference cancels (it is z^3/3 near 0 and loses 2 bits still
 * at |z| ~ 1), so it comes from the polynomial z^3 R(z^2), with z^3 and R in double-double so that the
 * product is rounded once; beyond, from z - 1 + 2E/(1 + E), E = e^-2|z|, whose two terms have the same
 * sign and where z - 1 is exact up to |z| = 2.
 */
export function tanhDeficit(z: number): number {
  const size = Math.abs(z);
  if (size < 2 ** -300) {
    // z^3 < 2^-900: the double-double's partial products would underflow; three roundings are fine here.
    const w = z * z;
    return z * (w * tanhDeficitRatio(w));
  }
  if (size < 1) {
    const w = z * z;
    const wLo = productError(z, z, w);
    const cube = z * w;
    const cubeLo = productError(z, w, cube) + z * wLo;
    const c = R_COEFFICIENTS;
    // R at w + wLo rather than w: R'(w) wLo, with R' to a few bits.
    const tail = tanhDeficitRatioTail(w) + wLo * (c[0] + w * (2 * c[1] + 3 * c[2] * w));
    const r = R0_HI + tail;
    const rLo = tail - (r - R0_HI);
    const p = cube * r;
    return p + (productError(cube, r, p) + cubeLo * r + cube * rLo);
  }
  const e = Math.exp(-2 * size);
  const d = size - 1 + (2 * e) / (1 + e);
  return z < 0 ? -d : d;
}

/**
 * tanh z within 1 ulp: z (1 - z^2 R(z^2)) below |z| = 0.55 (a correction under 0.1 to 1), and
 * 1 - 2E/(1 + E) with E = e^-2|z| above (tanh >= 0.5, so the subtraction loses nothing).
 */
export function tanh(z: number): number {
  const size = Math.abs(z);
  if (size < 0.55) {
    const w = z * z;
    return z - z * (w * tanhDeficitRatio(w));
  }
  const e = Math.exp(-2 * size);
  const t = 1 - (2 * e) / (1 + e);
  return z < 0 ? -t : t;
}

/**
 * tanh'(z) = sech^2 z. Near 0 it is 1 - tanh^2 (under 0.22 taken from 1). Beyond |z| = 0.5 it is
 * 4E/(1 + E)^2 with E = e^-2|z| (1 + E and the square in double-double), which keeps its relative
 * precision where 1 - a^2 is 0 (|z| > 19); past |z| = 354.19 E is subnormal, so it is (2 e^-|z|)^2,
 * rounded into the subnormal range once.
 */
export function sech2(z: number): number {
  const size = Math.abs(z);
  if (size < 0.5) {
    const t = tanh(z);
    return 1 - t * t;
  }
  if (size > 354.19) {
    const h = 2 * Math.exp(-size);
    return h * h;
  }
  const e = Math.exp(-2 * size);
  if (e < 2 ** -54) return 4 * e;
  const s = 1 + e;
  return overSquare(4 * e, s, e - (s - 1));
}

/**
 * tanh''(z) = -2 tanh z sech^2 z, the product of two kernels within an ulp each (sech^2 keeps its relative
 * precision where the textbook -2a(1 - a^2) is 0, |z| > 19). Past |z| = 354.19 sech^2 is subnormal: there
 * -2 sign(z) h^2 with h = 2 e^-|z| is rounded into the subnormal range once (tanh z is +-1 exactly).
 */
export function tanhSecondDerivative(z: number): number {
  const size = Math.abs(z);
  if (size > 354.19) {
    const h = 2 * Math.exp(-size);
    return (z > 0 ? -2 * h : 2 * h) * h;
  }
  return -2 * tanh(z) * sech2(z);
}

/**
 * tanh^2 z (tanhshrink's derivative). Below |z| = 1, tanh z = z - D with D = z^3 R(z^2) is kept as a
 * double-double before squaring (squaring a rounded tanh would double its error); above, 1 - sech^2 z
 * takes under 0.42 from 1 and loses nothing.
 */
export function tanhSquared(z: number): number {
  if (Math.abs(z) >= 1) return 1 - sech2(z);
  const w = z * z;
  const d = z * (w * tanhDeficitRatio(w));
  const t = z - d;
  const tLo = z - t - d;
  return t * t + 2 * t * tLo;
}

/**
 * 1 / (1 + |z|)^2 (softsign's derivative), rounded once: 1 + |z| as a double-double (Fast2Sum), scaled
 * by a power of two into [1, 2^26) when it is larger so that its square cannot overflow, and the
 * result scaled back (the only place it can round again is the subnormal range).
 */
export function inverseSquareOnePlus(z: number): number {
  const size = Math.abs(z);
  const s = 1 + size;
  const sLo = size >= 1 ? 1 - (s - size) : size - (s - 1);
  if (s < 2 ** 26) return overSquare(1, s, sLo);
  const f = 2 ** -Math.floor(Math.log2(s));
  return overSquare(1, s * f, sLo * f) * f * f;
}

/**
 * c / (1 + |z|)^3 for a power of two c (softsign's second derivative: c = -2 sign z), rounded once: 1 + |z| as a double-double
 * (Fast2Sum), scaled by 2^-e into [1, 2) so that its cube cannot overflow, the cube and quotient in
 * double-double, and 2^-3e applied by ldexp (one rounding where the result is subnormal, |z| > 2^340).
 */
export function inverseCubeOnePlus(z: number, c = 1): number {
  const size = Math.abs(z);
  const s = 1 + size;
  const sLo = size >= 1 ? 1 - (s - size) : size - (s - 1);
  const e = s < 2 ? 0 : Math.floor(Math.log2(s));
  const f = ldexp(1, -e);
  const x: DD = { hi: s * f, lo: sLo * f };
  const q = ddDiv({ hi: 1, lo: 0 }, ddMul(ddMul(x, x), x));
  return ldexp(c * q.hi, -3 * e);
}
