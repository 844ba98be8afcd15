/**
 * Float64 kernels shared by the exp/log activations, each within a few ulp of the exact value over the
 * whole float64 range (subnormal results included) and never overflowing where the true value is finite.
 * V8's Math.exp, Math.expm1 and Math.log1p are within 1 ulp; Math.tanh is not (2 ulp near |z| ~ 0.4),
 * hence the tanh below.
 */

/** Dekker's splitter 2^27 + 1: x * SPLITTER splits x into two 26-bit halves. */
const SPLITTER = 134217729;
const TWO_POW_520 = 2 ** 520;
const TWO_POW_600 = 2 ** 600;

/** Dekker's two-product: a * b = p + productTail(a, b, p) exactly, for |a|, |b| <= 2^995 and no underflow. */
function productTail(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const aHi = t - (t - a);
  const aLo = a - aHi;
  t = SPLITTER * b;
  const bHi = t - (t - b);
  const bLo = b - bHi;
  return aHi * bHi - p + aHi * bLo + aLo * bHi + aLo * bLo;
}

/**
 * The low part of the product a * b rounded to p: a * b = p + productLow(a, b, p). Only where it
 * matters for e^p, 1/4 <= |p| <= 2^11 (exp amplifies the rounding of p by |p|); 0 elsewhere.
 */
export function productLow(a: number, b: number, p: number): number {
  const size = Math.abs(p);
  if (!(size >= 0.25 && size <= 2 ** 11)) return 0;
  // |a b| <= 2^11, so a factor beyond 2^500 comes with one below 2^-489: rescale both by 2^520, exactly,
  // so that the split cannot overflow.
  if (Math.abs(a) > 2 ** 500) return productTail(a / TWO_POW_520, b * TWO_POW_520, p);
  if (Math.abs(b) > 2 ** 500) return productTail(a * TWO_POW_520, b / TWO_POW_520, p);
  return productTail(a, b, p);
}

/**
 * The low part of the quotient n / d rounded to q: n / d = q + quotientLow(n, d, q) (to about 2^-104
 * relative). Only where it matters for e^q, 1/4 <= |q| <= 2^11; 0 elsewhere.
 */
export function quotientLow(n: number, d: number, q: number): number {
  const size = Math.abs(q);
  if (!(size >= 0.25 && size <= 2 ** 11)) return 0;
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
  return (n - p - productTail(q, d, p)) / d;
}

/**
 * c * e^(x + xLo), with |xLo| at most about ulp(x) (the low part of a product or quotient rounded to x).
 * e^(x + xLo) = e^x (1 + xLo) to within xLo^2. Below x = -708 e^x is subnormal and has lost relative
 * precision before the scaling by c; there it is computed as (c e^(x/2)) e^(x/2), rounding into the
 * subnormal range only once.
 */
export function scaledExp(c: number, x: number, xLo = 0): number {
  if (x >= -708 || (c === 1 && xLo === 0)) {
    const e = Math.exp(x);
    return c * (e + e * xLo);
  }
  const half = Math.exp(x / 2);
  return c * (half + half * xLo) * half;
}

/**
 * The logistic function 1/(1 + e^-(z + zLo)) from E = e^-|z| <= 1, so that nothing overflows;
 * zLo is the low part of an argument that was rounded to z (softplus with beta != 1).
 */
export function logistic(z: number, zLo = 0): number {
  if (z >= 0) return 1 / (1 + scaledExp(1, -z, -zLo));
  const e = scaledExp(1, z, zLo);
  return e / (1 + e);
}

/**
 * sigma'(z) = sigma(z) sigma(-z) = E / (1 + E)^2 with E = e^-|z|: keeps full relative precision out to
 * z = -745 and beyond, where a(1 - a) from a rounded a is 0 (from |z| ~ 37 on).
 */
export function logisticDerivative(z: number): number {
  const e = Math.exp(-Math.abs(z));
  const s = 1 + e;
  return e / s / s;
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

function tanhDeficitRatio(w: number): number {
  const c = R_COEFFICIENTS;
  let q = c[15];
  for (let k = 14; k >= 0; k--) q = q * w + c[k];
  return R0_HI + (R0_LO + w * q);
}

/**
 * z - tanh z (tanhshrink). For |z| < 1 the difference cancels (it is z^3/3 near 0 and loses 2 bits still
 * at |z| ~ 1), so it comes from the polynomial z^3 R(z^2); beyond, from z - 1 + 2E/(1 + E), E = e^-2|z|,
 * whose two terms have the same sign and where z - 1 is exact up to |z| = 2.
 */
export function tanhDeficit(z: number): number {
  const size = Math.abs(z);
  if (size < 1) {
    const w = z * z;
    return z * (w * tanhDeficitRatio(w));
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
 * 4E/(1 + E)^2 with E = e^-2|z|, which keeps its relative precision where 1 - a^2 is 0 (|z| > 19);
 * past |z| = 354 4E is subnormal, so it is (2 e^-|z|)^2, rounded into the subnormal range once.
 */
export function sech2(z: number): number {
  const size = Math.abs(z);
  if (size < 0.5) {
    const t = tanh(z);
    return 1 - t * t;
  }
  if (size > 354) {
    const h = 2 * Math.exp(-size);
    return h * h;
  }
  const e = Math.exp(-2 * size);
  const s = 1 + e;
  return (4 * e) / s / s;
}
