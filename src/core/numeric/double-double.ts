/**
 * Double-double arithmetic: a number carried as an unevaluated sum hi + lo of two float64 with
 * |lo| <= ulp(hi)/2, giving about 106 bits of precision. Used only where plain float64 cannot hold the
 * activations' 4-ulp bar (cancellation near the roots of derivatives, inputs amplified by large |z|).
 *
 * Error-free transformations: Knuth's TwoSum, Dekker's Fast2Sum and Dekker's product with Veltkamp
 * splitting (T. J. Dekker, "A floating-point technique for extending the available precision", 1971).
 * Double-double operations follow Joldes, Muller & Popescu, "Tight and rigorous error bounds for basic
 * building blocks of double-word arithmetic", ACM TOMS 44(2), 2017 (algorithm numbers below), which
 * bound their relative errors by a few u^2, u = 2^-53.
 */

/** hi + lo, |lo| <= ulp(hi)/2. */
export interface DD {
  readonly hi: number;
  readonly lo: number;
}

/** Knuth's TwoSum: s + e = a + b exactly, s = fl(a + b), for any order of magnitude. */
export function twoSum(a: number, b: number): DD {
  const hi = a + b;
  const bb = hi - a;
  return { hi, lo: a - (hi - bb) + (b - bb) };
}

/** Dekker's Fast2Sum: exact like twoSum, but only when |a| >= |b| (or a is 0). */
export function fastTwoSum(a: number, b: number): DD {
  const hi = a + b;
  return { hi, lo: b - (hi - a) };
}

// Veltkamp's splitter 2^27 + 1: a = ah + al with both halves on 26 bits, so their products are exact.
// The multiplication overflows for |a| > 2^996 (~6.7e299): callers keep their operands below that.
const SPLITTER = 134217729;

/**
 * Dekker's product error: a * b = p + productError(a, b, p) exactly when p = fl(a * b) (barring underflow
 * of the error). |a|, |b| < 2^996.
 */
export function productError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** Dekker's product: p + e = a * b exactly (barring underflow of e), p = fl(a * b). |a|, |b| < 2^996. */
export function twoProd(a: number, b: number): DD {
  const p = a * b;
  return { hi: p, lo: productError(a, b, p) };
}

/** A double as a double-double. */
export const dd = (hi: number, lo = 0): DD => ({ hi, lo });

export const ddNeg = (x: DD): DD => ({ hi: -x.hi, lo: -x.lo });

/** x * 2^s for a power of two 2^s: exact (barring underflow), so it stays a normalized pair. */
export const ddScale = (x: DD, pow2: number): DD => ({ hi: x.hi * pow2, lo: x.lo * pow2 });

/** x + b (JMP Algorithm 4, DWPlusFP): relative error <= 2u^2. */
export function ddAddD(x: DD, b: number): DD {
  const s = twoSum(x.hi, b);
  return fastTwoSum(s.hi, s.lo + x.lo);
}

/** x + y (JMP Algorithm 6, AccurateDWPlusDW): relative error <= 3u^2, also under cancellation. */
export function ddAdd(x: DD, y: DD): DD {
  const s = twoSum(x.hi, y.hi);
  const t = twoSum(x.lo, y.lo);
  const v = fastTwoSum(s.hi, s.lo + t.hi);
  return fastTwoSum(v.hi, t.lo + v.lo);
}

export const ddSub = (x: DD, y: DD): DD => ddAdd(x, ddNeg(y));

/** x * b (JMP Algorithm 7, DWTimesFP1): relative error <= 1.5u^2 + 4u^3. */
export function ddMulD(x: DD, b: number): DD {
  const c = twoProd(x.hi, b);
  const t = fastTwoSum(c.hi, x.lo * b);
  return fastTwoSum(t.hi, t.lo + c.lo);
}

/** x * y (JMP Algorithm 10, DWTimesDW1): relative error <= 7u^2. */
export function ddMul(x: DD, y: DD): DD {
  const c = twoProd(x.hi, y.hi);
  const cross = x.hi * y.lo + x.lo * y.hi;
  return fastTwoSum(c.hi, c.lo + cross);
}

/** x / b (JMP Algorithm 15, DWDivFP1): relative error <= 3.5u^2. */
export function ddDivD(x: DD, b: number): DD {
  const th = x.hi / b;
  const p = twoProd(th, b);
  const d = x.hi - p.hi - p.lo + x.lo;
  return fastTwoSum(th, d / b);
}

/** x / y (JMP Algorithm 17, DWDivDW1: quotient, then one correction): relative error <= 15u^2. */
export function ddDiv(x: DD, y: DD): DD {
  const th = x.hi / y.hi;
  const r = ddMulD(y, th);
  const d = x.hi - r.hi + (x.lo - r.lo);
  return fastTwoSum(th, d / y.hi);
}

// 2^k for every k a float64 can hold, by repeated doubling from 2^-1074 (exact), rather than trusting
// Math.pow to be exact at every power of two.
const POW2 = new Float64Array(1074 + 1024);
POW2[0] = 2 ** -1074;
for (let i = 1; i < POW2.length; i++) POW2[i] = POW2[i - 1] * 2;

/** 2^k exactly, for integer k in [-1074, 1023]; 0 below, Infinity above. */
export function pow2(k: number): number {
  if (k < -1074) return 0;
  if (k > 1023) return Number.POSITIVE_INFINITY;
  return POW2[k + 1074];
}

/**
 * m * 2^k with a single rounding, the last one: when the result is subnormal the mantissa is first
 * brought to 2^-960 (still normal, so exact) and only the final multiplication rounds. This is how the
 * exp helpers below hand back e^x for x < -708 without rounding twice. Needs |m| in [2^-60, 2^60].
 */
export function ldexp(m: number, k: number): number {
  if (k >= -1022 && k <= 1023) return m * POW2[k + 1074];
  if (k < -1022) return m * 2 ** -960 * pow2(k + 960);
  return m * 2 ** 1000 * pow2(k - 1000);
}

/** e^x = (hi + lo) * 2^k, with hi + lo in [sqrt(1/2), sqrt(2)] (so nothing is subnormal before ldexp). */
export interface ScaledDD extends DD {
  readonly k: number;
}

/** ln 2 and 1/ln 2 as double-doubles (mpmath, 60 digits, rounded). */
export const LN2: DD = dd(Math.LN2, 2.3190468138462996e-17);
const INV_LN2 = Math.LOG2E;

/**
 * e^x in double-double, for |x| <= 1500 (the callers' arguments are at most ~1100 in magnitude).
 * x = k ln 2 + r, |r| <= ln2/2, k ln 2 a double-double product (ln 2's own 2^-107 rounding, times k,
 * is the largest error: ~3e-33 |k|, so ~3e-30 relative at x = -1000);
 * e^r = (e^(r/256))^256 with e^s - 1 from its Taylor series (|s| < 1.4e-3, 10 terms reach 1e-33) and
 * 8 squarings done on e^s - 1 (e^2s - 1 = (e^s - 1)(e^s + 1)) so that nothing cancels.
 */
export function expDD(x: DD): ScaledDD {
  const k = Math.round(x.hi * INV_LN2) + 0; // + 0: no -0 scale
  const r = ddSub(x, ddMulD(LN2, k));
  const s = ddScale(r, 2 ** -8);
  // Horner on e^s - 1 = s (1 + s/2 (1 + s/3 (1 + ...))).
  let q = dd(1);
  for (let n = 10; n >= 2; n--) q = ddAddD(ddDivD(ddMul(s, q), n), 1);
  let p = ddMul(s, q);
  for (let i = 0; i < 8; i++) p = ddMul(p, ddAddD(p, 2));
  const e = ddAddD(p, 1);
  return { hi: e.hi, lo: e.lo, k };
}

/** e^x = m * 2^k with a float64 mantissa m in [~0.7, ~1.42]: cheaper than expDD when ~1 ulp is enough. */
export interface ScaledDouble {
  readonly m: number;
  readonly k: number;
}

// Cody & Waite's split of ln 2: LN2_CW_HI has its low 21 bits zero, so k * LN2_CW_HI is exact for |k| < 2^21.
const LN2_CW_HI = 0.6931471803691238;
const LN2_CW_LO = 1.9082149292705877e-10;

/**
 * e^(xh + xl) = m * 2^k for a double-double (or plain, xl = 0) argument with |xh| <= 1500.
 * Reduces with Cody-Waite, keeps the reduced argument as a pair (rh + rl) so its rounding does not
 * add to the error, and takes e^rh from Math.exp (fdlibm, < 1 ulp) times (1 + rl): m is within ~1 ulp.
 * No subnormal intermediate: the caller applies 2^k once, at the end (ldexp).
 */
export function expScaled(xh: number, xl = 0): ScaledDouble {
  const k = Math.round(xh * INV_LN2) + 0;
  const a = xh - k * LN2_CW_HI; // exact (Sterbenz): xh and k ln2 are within a factor 2 when k != 0
  const b = twoProd(k, LN2_CW_LO);
  const r = twoSum(a, -b.hi);
  const rl = r.lo - b.lo + xl;
  const e = Math.exp(r.hi);
  return { m: e + e * rl, k };
}
