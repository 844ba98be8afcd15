/**
 * Gated activations z * gate(z): gelu (exact, erf), gelu_tanh, silu, mish.
 *
 * Each value and derivative is within a few ulp of the correctly rounded result over all of float64,
 * subnormal results included. Plain float64 holds that for typical inputs; three things need more:
 * - inputs that an exponential amplifies: e^(-x^2) turns the rounding of x = -z/sqrt2 into a relative
 *   error ~ z^2 u in gelu, e^(2u) the rounding of u = c (z + k z^3) into ~ 2|u| u in gelu_tanh. There the
 *   argument is carried as a double-double and the function corrected to first order;
 * - results below 2^-1022 (z < -708 for silu/mish, z < -26 for gelu): e^z is taken as m * 2^k and the
 *   scale applied by the last multiplication, so nothing is subnormal before the final rounding;
 * - the derivatives near their roots (gelu' near -0.75, gelu_tanh' near -0.75, silu' near -1.28,
 *   mish' near -1.19), where g' is a difference of two nearly equal terms: there the whole formula runs
 *   in double-double (../numeric/double-double.ts), about 20x slower, in a window of ~1 around the root.
 */
import erfc from '@stdlib/math-base-special-erfc';
import {
  type DD,
  dd,
  ddAdd,
  ddAddD,
  ddDiv,
  ddDivD,
  ddMul,
  ddMulD,
  ddNeg,
  ddScale,
  ddSub,
  expDD,
  expScaled,
  ldexp,
  pow2,
  twoProd,
  twoSum,
} from '../numeric/double-double.js';
import type { ElementwiseActivation } from './types.js';

// Constants as double-doubles (mpmath, 60 digits, rounded): the low parts matter wherever the constant
// multiplies a large argument of an exponential.
const SQRT1_2: DD = dd(Math.SQRT1_2, -4.833646656726457e-17);
const INV_SQRT_2PI: DD = dd(0.3989422804014327, -2.49232720227773e-17);
const TWO_SQRT_PI: DD = dd(1.1283791670955126, 1.533545961316588e-17);
/** gelu_tanh: sqrt(2/pi) and 0.044715 (the exact decimal, as the reference uses it). */
const SQRT_2_PI: DD = dd(0.7978845608028654, -4.98465440455546e-17);
const K_TANH: DD = dd(0.044715, 2.1960211427085595e-18);

/** Below this e^z < 2^-54, so 1 + e^z rounds to 1 and the gates reduce to e^z times a polynomial. */
const TINY_EXP = -37;

/** The double-double value of a scaled pair, as a plain double-double (callers keep k in the normal range). */
const unscale = (e: { hi: number; lo: number; k: number }): DD => ddScale(e, pow2(e.k));

/**
 * z sigma = z E/(1 + E) for a gate e^v = E < 1 (z < 0), with z E and 1 + E kept exact and one rounding
 * at the end: the three roundings of the plain quotient reach 3 ulp (gelu_tanh near z = -3.2).
 */
function zSigma(z: number, E: number): number {
  return ddDiv(twoProd(z, E), twoSum(1, E)).hi;
}

/**
 * sigma(v) + s sigma(v)(1 - sigma(v)) = E (1 + s + E)/(1 + E)^2 for E = e^v < 1, given 1 + s as a
 * double-double: the slope term of silu' and gelu_tanh' for z < 0 away from their roots. Compensated,
 * since the five roundings of the plain formula reach 4 ulp (silu' near z = -7.5, -17); E from Math.exp
 * (< 1 ulp) is then the only error, entering with a factor below ~1.5.
 */
function sigmoidSlopeRatio(E: number, onePlusS: DD): number {
  const onePlusE = twoSum(1, E);
  return ddDiv(ddMulD(ddAddD(onePlusS, E), E), ddMul(onePlusE, onePlusE)).hi;
}

// ---------------------------------------------------------------- gelu

/** Below this gelu and gelu' are smaller than 2^-1075 in magnitude (|g| ~ phi(z) = e^(-z^2/2)/sqrt(2 pi)). */
const GELU_UNDERFLOW = -39;
/** Below this the asymptotic series of erfc is used (erfc itself goes subnormal before gelu does). */
const GELU_ASYMPTOTIC = -20;
/** gelu' runs in double-double on [GELU_DD_LO, GELU_DD_HI], around its root z ~ -0.7518. */
const GELU_DD_LO = -1.8;
const GELU_DD_HI = -0.3;

/**
 * 2 Phi(z) = erfc(-z/sqrt2), with -z/sqrt2 carried as xh + xl: erfc(x + dx) ~ erfc(x) - 2/sqrt(pi)
 * e^(-x^2) dx corrects the rounding of x, which e^(-x^2) would otherwise amplify by ~2x^2 (1200 ulp at
 * z = -36). Returns erfc(xh) and the correction separately so the caller can multiply without rounding.
 */
function twoPhi(z: number): { e: number; correction: number } {
  const p = twoProd(z, SQRT1_2.hi);
  const xh = -p.hi;
  const xl = -(p.lo + z * SQRT1_2.lo);
  return { e: erfc(xh), correction: -TWO_SQRT_PI.hi * Math.exp(-xh * xh) * xl };
}

/**
 * e^(-z^2/2) in double-double with its 2^k scale: z^2 is exact as a double-double (twoProd), so the
 * exponent is exact.
 */
function expHalfSquare(z: number) {
  const s = twoProd(z, z);
  return expDD(dd(-0.5 * s.hi, -0.5 * s.lo));
}

/**
 * For z <= -20: Phi(z) = phi(z)/|z| * S, S = sum_n (-1)^n (2n-1)!! / z^2n (the asymptotic series of
 * erfc; 12 terms reach 1e-18 at |z| = 20). Returns 1 - S.
 */
function oneMinusAsymptoticS(z: number): number {
  const y = 1 / (z * z);
  let w = 1;
  for (let n = 12; n >= 2; n--) w = 1 - (2 * n - 1) * y * w;
  return y * w;
}

/** Phi(z) = (1 + erf(z/sqrt2))/2 in double-double from the Taylor series of erf (|z| <= 2). */
function phiDD(z: number): DD {
  const x = ddMulD(SQRT1_2, z);
  const x2 = ddMul(x, x);
  // erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)): alternating, |x| <= 1.4 so it loses
  // at most e^(x^2) ~ 7 in relative precision; stop once the terms are below 1e-34.
  let term = x;
  let sum = x;
  for (let n = 1; n < 60 && Math.abs(term.hi) > 1e-34; n++) {
    term = ddDivD(ddMul(term, x2), -n);
    sum = ddAdd(sum, ddDivD(term, 2 * n + 1));
  }
  const erf = ddMul(sum, TWO_SQRT_PI);
  return ddScale(ddAddD(erf, 1), 0.5);
}

function geluForward(z: number): number {
  if (z < GELU_UNDERFLOW) return -0;
  if (z < GELU_ASYMPTOTIC) {
    // gelu = z Phi(z) = -phi(z) S(z): erfc(-z/sqrt2) would be subnormal (or lose bits) before gelu is.
    const e = expHalfSquare(z);
    const phi = ddMul(e, INV_SQRT_2PI);
    const m = ddSub(phi, ddMulD(phi, oneMinusAsymptoticS(z)));
    return -ldexp(m.hi, e.k);
  }
  if (z > 40) return z; // Phi(z) = 1 to far below half an ulp
  // gelu = z/2 erfc(-z/sqrt2): the product z * erfc is kept exact (twoProd) until the last addition.
  const { e, correction } = twoPhi(z);
  const p = twoProd(z, e);
  return 0.5 * (p.hi + (p.lo + z * correction));
}

function geluDerivative(z: number): number {
  if (z < GELU_UNDERFLOW) return -0;
  if (z < GELU_ASYMPTOTIC) {
    // g' = Phi + z phi = z phi(z) (1 - S/z^2): no cancellation, phi from the scaled e^(-z^2/2).
    const e = expHalfSquare(z);
    const zphi = ddMulD(ddMul(e, INV_SQRT_2PI), z);
    const S = 1 - oneMinusAsymptoticS(z);
    const m = ddSub(zphi, ddMulD(zphi, S / (z * z)));
    return ldexp(m.hi, e.k);
  }
  if (z > 40) return 1; // Phi(z) = 1 and z phi(z) = 0 to far below half an ulp
  if (z >= GELU_DD_LO && z <= GELU_DD_HI) {
    // Near the root (-0.7518) Phi and z phi cancel: both in double-double, Phi from the erf series.
    const zphi = ddMulD(ddMul(unscale(expHalfSquare(z)), INV_SQRT_2PI), z);
    const g = ddAdd(phiDD(z), zphi);
    return g.hi;
  }
  // Elsewhere the cancellation factor max(Phi, |z phi|)/|g'| stays below ~1.5: float64 terms each within
  // ~1 ulp, added without intermediate rounding (twoProd/twoSum).
  const { e, correction } = twoPhi(z);
  const s = twoProd(z, z);
  const ex = Math.exp(-0.5 * s.hi);
  const gauss = ex - ex * 0.5 * s.lo; // e^(-z^2/2) with z^2 exact
  const zc = twoProd(z, INV_SQRT_2PI.hi);
  const zcl = zc.lo + z * INV_SQRT_2PI.lo;
  const zphi = twoProd(zc.hi, gauss);
  const sum = twoSum(0.5 * e, zphi.hi);
  return sum.hi + (sum.lo + zphi.lo + zcl * gauss + 0.5 * correction);
}

// ---------------------------------------------------------------- gelu_tanh

/** Below this z e^(2u) < 2^-1075 (2u ~ -905 at z = -23). */
const GELU_TANH_UNDERFLOW = -25;
/** gelu_tanh' runs in double-double on [lo, hi], around its root z ~ -0.7517. */
const GELU_TANH_DD_LO = -1.8;
const GELU_TANH_DD_HI = -0.3;

/** v = 2u = 2 sqrt(2/pi) (z + 0.044715 z^3) as a double-double (|z| <= 25, so no split overflows). */
function gateArgumentDD(z: number): DD {
  const z3 = ddMulD(twoProd(z, z), z);
  return ddScale(ddMul(SQRT_2_PI, ddAddD(ddMul(K_TANH, z3), z)), 2);
}

/** z v' = 2 sqrt(2/pi) z (1 + 3 * 0.044715 z^2) as a double-double. */
function zGateSlopeDD(z: number): DD {
  const inner = ddAddD(ddMulD(ddMul(K_TANH, twoProd(z, z)), 3), 1);
  return ddScale(ddMulD(ddMul(SQRT_2_PI, inner), z), 2);
}

function geluTanhForward(z: number): number {
  // gelu_tanh = z/2 (1 + tanh u) = z sigma(2u), 1 + tanh(u) = 2 sigma(2u).
  if (z < GELU_TANH_UNDERFLOW) return -0;
  if (z > 10) return z; // e^(-2u) < 2^-120
  if (z >= 0) {
    // sigma(v) = 1/(1 + e^-v): the relative error of v enters damped by v sigma(-v) <= 0.28.
    const v = 2 * SQRT_2_PI.hi * z * (1 + K_TANH.hi * z * z);
    return z / (1 + Math.exp(-v));
  }
  // z < 0: sigma(v) = e^v/(1 + e^v), and e^v amplifies the rounding of v by |v| (up to ~745):
  // v is a double-double, e^v a scaled float64.
  const v = gateArgumentDD(z);
  const { m, k } = expScaled(v.hi, v.lo);
  if (v.hi < TINY_EXP) return ldexp(z * m, k);
  return zSigma(z, ldexp(m, k));
}

function geluTanhDerivative(z: number): number {
  // g' = sigma(v) + z v' sigma(v) (1 - sigma(v)).
  if (z < GELU_TANH_UNDERFLOW) return -0;
  if (z > 10) return 1;
  if (z >= 0) {
    // With E = e^-v: g' = (1 + E + z v' E)/(1 + E)^2, a sum of positive terms.
    const v = 2 * SQRT_2_PI.hi * z * (1 + K_TANH.hi * z * z);
    const E = Math.exp(-v);
    const zv = 2 * SQRT_2_PI.hi * z * (1 + 3 * K_TANH.hi * z * z);
    const onePlusE = 1 + E;
    return (onePlusE + zv * E) / (onePlusE * onePlusE);
  }
  // z < 0, E = e^v: g' = E (1 + E + z v')/(1 + E)^2; 1 + z v' + E cancels near the root.
  const v = gateArgumentDD(z);
  const zv = zGateSlopeDD(z);
  if (z >= GELU_TANH_DD_LO && z <= GELU_TANH_DD_HI) {
    const E = unscale(expDD(v));
    const onePlusE = ddAddD(E, 1);
    const num = ddMul(E, ddAdd(ddAddD(zv, 1), E));
    return ddDiv(num, ddMul(onePlusE, onePlusE)).hi;
  }
  const { m, k } = expScaled(v.hi, v.lo);
  const onePlusZv = ddAddD(zv, 1);
  if (v.hi < TINY_EXP) return ldexp(ddMulD(onePlusZv, m).hi, k);
  return sigmoidSlopeRatio(ldexp(m, k), onePlusZv);
}

// ---------------------------------------------------------------- silu

/** Below this z e^z < 2^-1075. */
const EXP_UNDERFLOW = -800;
/** silu' runs in double-double on [lo, hi], around its root z ~ -1.2785. */
const SILU_DD_LO = -2.5;
const SILU_DD_HI = -0.6;

function siluForward(z: number): number {
  if (z >= 0) return z / (1 + Math.exp(-z));
  if (z < EXP_UNDERFLOW) return -0;
  // z < 0: sigma = E/(1 + E), E = e^z as m 2^k: below -37, 1 + E = 1 and silu = z e^z, scaled at the end.
  const { m, k } = expScaled(z);
  if (z < TINY_EXP) return ldexp(z * m, k);
  return zSigma(z, ldexp(m, k));
}

function siluDerivative(z: number): number {
  // silu' = sigma(z) (1 + z (1 - sigma(z))).
  if (z >= 0) {
    // With E = e^-z: (1 + E + z E)/(1 + E)^2, positive terms only.
    const E = Math.exp(-z);
    const onePlusE = 1 + E;
    return (onePlusE + z * E) / (onePlusE * onePlusE);
  }
  if (z < EXP_UNDERFLOW) return -0;
  // z < 0, E = e^z: E (1 + z + E)/(1 + E)^2, where 1 + z + E cancels near the root.
  if (z >= SILU_DD_LO && z <= SILU_DD_HI) {
    const E = unscale(expDD(dd(z)));
    const onePlusE = ddAddD(E, 1);
    const num = ddMul(E, ddAdd(twoSum(1, z), E));
    return ddDiv(num, ddMul(onePlusE, onePlusE)).hi;
  }
  const { m, k } = expScaled(z);
  const onePlusZ = twoSum(1, z);
  if (z < TINY_EXP) return ldexp(ddMulD(onePlusZ, m).hi, k);
  return sigmoidSlopeRatio(ldexp(m, k), onePlusZ);
}

// ---------------------------------------------------------------- mish

/** mish' runs in double-double on [lo, hi], around its root z ~ -1.1924. */
const MISH_DD_LO = -2.5;
const MISH_DD_HI = -0.5;

function mishForward(z: number): number {
  // mish = z tanh(softplus z), tanh(log(1 + E)) = N/(N + 2) with N = E (E + 2), E = e^z.
  if (z >= 0) {
    // In w = e^-z (no overflow): tanh(softplus z) = (1 + 2w)/(1 + 2w + 2w^2).
    const w = Math.exp(-z);
    const a = 1 + 2 * w;
    return (z * a) / (a + 2 * w * w);
  }
  if (z < EXP_UNDERFLOW) return -0;
  const { m, k } = expScaled(z);
  if (z < TINY_EXP) return ldexp(z * m, k); // N/(N + 2) = E (1 + O(E))
  // Compensated: the six roundings of the plain rational function reach 4 ulp (z ~ -30, -10).
  const E = ldexp(m, k);
  const N = ddAddD(twoProd(E, E), 2 * E);
  return ddDiv(ddMulD(N, z), ddAddD(N, 2)).hi;
}

function mishDerivative(z: number): number {
  // mish' = t + z sech^2(softplus z) sigma(z) = [N (N + 2) + 4 z E (1 + E)]/(N + 2)^2.
  if (z > 40) return 1; // 1 - mish' ~ 2e^(-2z) < 2^-100; also keeps 4z finite
  if (z >= 0) {
    // In w = e^-z, D = 1 + 2w + 2w^2: [(1 + 2w) D + 4 z w^2 (1 + w)]/D^2, positive terms only.
    const w = Math.exp(-z);
    const w2 = w * w;
    const a = 1 + 2 * w;
    const D = a + 2 * w2;
    return (a * D + 4 * z * w2 * (1 + w)) / (D * D);
  }
  if (z < EXP_UNDERFLOW) return -0;
  // z < 0: E [(E + 2)(N + 2) + 4 z (1 + E)]/(N + 2)^2; the bracket cancels near the root.
  if (z >= MISH_DD_LO && z <= MISH_DD_HI) {
    const E = unscale(expDD(dd(z)));
    const N = ddMul(E, ddAddD(E, 2));
    const Np2 = ddAddD(N, 2);
    const bracket = ddAdd(ddMul(ddAddD(E, 2), Np2), ddMulD(ddAddD(E, 1), 4 * z));
    return ddDiv(ddMul(E, bracket), ddMul(Np2, Np2)).hi;
  }
  const { m, k } = expScaled(z);
  if (z < TINY_EXP) return ldexp(ddMulD(twoSum(1, z), m).hi, k);
  // Compensated: in plain float64 the roundings reach 5 ulp (z ~ -5.8, -2.8); E itself from Math.exp.
  const E = ldexp(m, k);
  const Np2 = ddAddD(ddAddD(twoProd(E, E), 2 * E), 2);
  const bracket = ddAdd(ddMul(twoSum(E, 2), Np2), ddMulD(twoSum(1, E), 4 * z));
  return ddDiv(ddMulD(bracket, E), ddMul(Np2, Np2)).hi;
}

// ---------------------------------------------------------------- second derivatives
//
// gelu, gelu_tanh and silu are z F(z) with F(-z) = 1 - F(z), so g(-z) = g(z) - z and g'' is even: computed at |z|.
// Each g'' has roots (gelu +-1.414, gelu_tanh +-1.42, silu +-2.40, mish -2.26 and 1.49) where its bracket is a
// difference of nearly equal terms: there the whole formula runs in double-double with a double-double
// exponential (expDD, ~0.6 us), in a window around the root. Elsewhere the exponential is a float64 within an
// ulp (Math.exp or expScaled) and the rest double-double, so that it is the only error besides the last rounding.
// Far out g'' = (polynomial) e^(-x) with nothing else left at float64 precision: the polynomial times the scaled
// exponential, rounded into the subnormal range once (ldexp), and -0 where even that is below 2^-1075.

/** p(x) = c[0] + c[1] x + ... in double-double (Horner), for small integer coefficients. */
function polyDD(c: readonly number[], x: DD): DD {
  let acc = dd(c[c.length - 1]);
  for (let i = c.length - 2; i >= 0; i--) acc = ddAddD(ddMul(acc, x), c[i]);
  return acc;
}

/** (x)^3 of a double-double. */
const cubeDD = (x: DD): DD => ddMul(ddMul(x, x), x);

/**
 * gelu'' = phi(z) (2 - z^2): z^2 exact (twoProd), so 2 - z^2 keeps its relative precision at the roots +-sqrt 2,
 * and e^(-z^2/2) from its exact argument (expScaled, ~1 ulp) scaled at the end. Past |z| = 40 below 2^-1075.
 */
function geluSecondDerivative(z: number): number {
  const size = Math.abs(z);
  if (size > 40) return -0;
  const s = twoProd(size, size);
  const { m, k } = expScaled(-0.5 * s.hi, -0.5 * s.lo);
  const bracket = ddAddD(ddNeg(s), 2);
  return ldexp(ddMulD(ddMul(INV_SQRT_2PI, bracket), m).hi, k);
}

/**
 * gelu_tanh'' runs in double-double on [lo, hi] (|z|), around its roots +-1.42. A narrower window costs accuracy:
 * [1.2, 1.7] measured 3 ulp at z = 1.18 (scripts/second-derivative-dense.ts over 6000 points in
 * 0.5 <= |z| <= 3.6); this one at most 2.
 */
const GELU_TANH_SECOND_DD_LO = 0.9;
const GELU_TANH_SECOND_DD_HI = 2.2;
/** Past this |z|, gelu_tanh'' ~ -(8/pi) 0.044715^2 9 |z|^5 e^(-v) is below 2^-1075 (v ~ 785 at 21.9). */
const GELU_TANH_SECOND_UNDERFLOW = 23;
/** 2/pi = (sqrt(2/pi))^2 as a double-double. */
const TWO_OVER_PI: DD = ddMul(SQRT_2_PI, SQRT_2_PI);

/**
 * gelu_tanh = z sigma(v), v = 2u. With a = |z|, E = e^-v(a) and c = sqrt(2/pi), k = 0.044715:
 * g'' = sigma'(v) [2 v' + a v'' - a v'^2 tanh(v/2)] = E [(P - Q) + E (P + Q)] / (1 + E)^3,
 * P = 4c (1 + 6k a^2) (2v' + a v''), Q = 8/pi a (1 + 3k a^2)^2 (a v'^2), tanh(v/2) = (1 - E)/(1 + E).
 * P and Q in double-double; P - Q cancels only near the roots (double-double there), and E's own error enters
 * with a factor near 1 elsewhere.
 */
function geluTanhSecondDerivative(z: number): number {
  const size = Math.abs(z);
  if (size > GELU_TANH_SECOND_UNDERFLOW) return -0;
  const a2 = twoProd(size, size);
  const P = ddScale(ddMul(SQRT_2_PI, ddAddD(ddMulD(ddMul(K_TANH, a2), 6), 1)), 4);
  const w = ddAddD(ddMulD(ddMul(K_TANH, a2), 3), 1);
  const Q = ddScale(ddMulD(ddMul(TWO_OVER_PI, ddMul(w, w)), size), 4);
  const v = gateArgumentDD(size);
  const diff = ddSub(P, Q);
  const sum = ddAdd(P, Q);
  if (size >= GELU_TANH_SECOND_DD_LO && size <= GELU_TANH_SECOND_DD_HI) {
    const E = unscale(expDD(ddNeg(v)));
    const onePlusE = ddAddD(E, 1);
    return ddDiv(ddMul(E, ddAdd(diff, ddMul(E, sum))), cubeDD(onePlusE)).hi;
  }
  const { m, k } = expScaled(-v.hi, -v.lo);
  // Past v = 40 the E terms are below 2^-56 of the rest: E (P - Q), scaled once.
  if (v.hi > 40) return ldexp(ddMulD(diff, m).hi, k);
  const E = ldexp(m, k);
  return ddDiv(ddMulD(ddAdd(diff, ddMulD(sum, E)), E), cubeDD(twoSum(1, E))).hi;
}

/** silu'' runs in double-double on [lo, hi] (|z|), around its roots +-2.3994. */
const SILU_SECOND_DD_LO = 1.6;
const SILU_SECOND_DD_HI = 3.3;

/**
 * silu'' = sigma'(z) (2 - z tanh(z/2)); with a = |z|, E = e^-a: E [(2 - a) + E (2 + a)] / (1 + E)^3. Written so,
 * rather than with 1 - E, E's error enters g'' with a factor below ~1.4 outside the window around the root; and
 * 2 - a is exact as a double-double. Past a = 40, E (2 - a) (the E terms are below 2^-56 of it); past 800, -0.
 */
function siluSecondDerivative(z: number): number {
  const size = Math.abs(z);
  if (size > 800) return -0;
  const diff = twoSum(2, -size);
  if (size > 40) {
    const { m, k } = expScaled(-size);
    return ldexp(ddMulD(diff, m).hi, k);
  }
  const sum = twoSum(2, size);
  if (size >= SILU_SECOND_DD_LO && size <= SILU_SECOND_DD_HI) {
    const E = unscale(expDD(dd(-size)));
    return ddDiv(ddMul(E, ddAdd(diff, ddMul(E, sum))), cubeDD(ddAddD(E, 1))).hi;
  }
  const E = Math.exp(-size);
  return ddDiv(ddMulD(ddAdd(diff, ddMulD(sum, E)), E), cubeDD(twoSum(1, E))).hi;
}

/** mish'' runs in double-double on these windows, around its roots -2.26 and 1.49. */
const MISH_SECOND_NEG_DD_LO = -3.2;
const MISH_SECOND_NEG_DD_HI = -1.5;
const MISH_SECOND_POS_DD_LO = 1.0;
const MISH_SECOND_POS_DD_HI = 2.2;
// mish'' for z < 0, E = e^z:  4E [A(E) + z B(E)] / (2 + 2E + E^2)^3, A = 4 + 8E + 6E^2 + 2E^3, B = 2 + 2E - 3E^2 - 2E^3;
// for z >= 0, w = e^-z (no overflow): 4w^2 [A'(w) - z B'(w)] / (1 + 2w + 2w^2)^3, A' = 2 + 6w + 8w^2 + 4w^3,
// B' = 2 + 3w - 2w^2 - 2w^3 (the same rational function, multiplied through by w^6).
const MISH_A_NEG = [4, 8, 6, 2] as const;
const MISH_B_NEG = [2, 2, -3, -2] as const;
const MISH_D_NEG = [2, 2, 1] as const;
const MISH_A_POS = [2, 6, 8, 4] as const;
const MISH_B_POS = [2, 3, -2, -2] as const;
const MISH_D_POS = [1, 2, 2] as const;

/**
 * mish'' = 2t' + z t'' with t = tanh(softplus z) = N/(N + 2), N = E (E + 2). The brackets cancel near the roots
 * (double-double there); elsewhere E (or w, and w^2 = e^-2z from its own exponential rather than w squared, which
 * would double w's error) is the only float64 input. Far out: z E (1 + 2/z) for z < -40 and 8 (1 - z) e^-2z for
 * z > 40, each the scaled exponential times an exact difference; -0 below 2^-1075 (z < -800, z > 400).
 */
function mishSecondDerivative(z: number): number {
  if (z < 0) {
    if (z < -800) return -0;
    if (z < -40) {
      const { m, k } = expScaled(z);
      return ldexp(ddMulD(twoSum(2, z), m).hi, k);
    }
    if (z >= MISH_SECOND_NEG_DD_LO && z <= MISH_SECOND_NEG_DD_HI) {
      const E = unscale(expDD(dd(z)));
      const bracket = ddAdd(polyDD(MISH_A_NEG, E), ddMulD(polyDD(MISH_B_NEG, E), z));
      return ddDiv(ddScale(ddMul(E, bracket), 4), cubeDD(polyDD(MISH_D_NEG, E))).hi;
    }
    const E = Math.exp(z);
    const e = dd(E);
    const bracket = ddAdd(polyDD(MISH_A_NEG, e), ddMulD(polyDD(MISH_B_NEG, e), z));
    return ddDiv(ddScale(ddMulD(bracket, E), 4), cubeDD(polyDD(MISH_D_NEG, e))).hi;
  }
  if (z > 400) return -0;
  if (z > 40) {
    const { m, k } = expScaled(-2 * z);
    return ldexp(ddMulD(twoSum(1, -z), 8 * m).hi, k);
  }
  if (z >= MISH_SECOND_POS_DD_LO && z <= MISH_SECOND_POS_DD_HI) {
    const w = unscale(expDD(dd(-z)));
    const bracket = ddSub(polyDD(MISH_A_POS, w), ddMulD(polyDD(MISH_B_POS, w), z));
    return ddDiv(ddScale(ddMul(ddMul(w, w), bracket), 4), cubeDD(polyDD(MISH_D_POS, w))).hi;
  }
  const w = dd(Math.exp(-z));
  const w2 = Math.exp(-2 * z);
  const bracket = ddSub(polyDD(MISH_A_POS, w), ddMulD(polyDD(MISH_B_POS, w), z));
  return ddDiv(ddScale(ddMulD(bracket, w2), 4), cubeDD(polyDD(MISH_D_POS, w))).hi;
}

// ---------------------------------------------------------------- entries

export const gelu: ElementwiseActivation = {
  name: 'gelu',
  aliases: [],
  kind: 'elementwise',
  description:
    'Gaussian error linear unit, exact form: z times the standard normal CDF of z (erf-based, not the tanh approximation).',
  params: [],
  formula: String.raw`g(z) = z\,\Phi(z) = \frac{z}{2}\left(1 + \operatorname{erf}\frac{z}{\sqrt{2}}\right)`,
  derivativeFormula: String.raw`g'(z) = \Phi(z) + z\,\varphi(z) = \frac{1}{2}\left(1 + \operatorname{erf}\frac{z}{\sqrt{2}}\right) + \frac{z}{\sqrt{2\pi}}\,e^{-z^2/2}`,
  forward: geluForward,
  derivative: geluDerivative,
  secondDerivativeFormula: String.raw`g''(z) = \varphi(z)\left(2 - z^2\right) = \frac{2 - z^2}{\sqrt{2\pi}}\,e^{-z^2/2}`,
  secondDerivative: geluSecondDerivative,
};

export const geluTanh: ElementwiseActivation = {
  name: 'gelu_tanh',
  aliases: [],
  kind: 'elementwise',
  description:
    "GELU's tanh approximation (PyTorch's approximate='tanh'), with exact sqrt(2/pi) and 0.044715.",
  params: [],
  formula: String.raw`g(z) = \frac{z}{2}\left(1 + \tanh u\right),\quad u = \sqrt{2/\pi}\,\left(z + 0.044715\,z^3\right)`,
  derivativeFormula: String.raw`g'(z) = \frac{1}{2}\left(1 + \tanh u\right) + \frac{z}{2}\left(1 - \tanh^2 u\right)\sqrt{2/\pi}\,\left(1 + 3 \cdot 0.044715\,z^2\right)`,
  forward: geluTanhForward,
  derivative: geluTanhDerivative,
  secondDerivativeFormula: String.raw`g''(z) = \sigma'(v)\left(2v' + z v'' - z v'^2 \tanh u\right),\quad v = 2u,\ \sigma'(v) = \frac{1 - \tanh^2 u}{4}`,
  secondDerivative: geluTanhSecondDerivative,
};

export const silu: ElementwiseActivation = {
  name: 'silu',
  aliases: ['swish'],
  kind: 'elementwise',
  description: 'Sigmoid linear unit (swish with beta = 1): z times the logistic sigmoid of z.',
  params: [],
  formula: String.raw`g(z) = z\,\sigma(z) = \frac{z}{1 + e^{-z}}`,
  derivativeFormula: String.raw`g'(z) = \sigma(z)\left(1 + z\,(1 - \sigma(z))\right)`,
  forward: siluForward,
  derivative: siluDerivative,
  secondDerivativeFormula: String.raw`g''(z) = \sigma(z)\,\sigma(-z)\left(2 - z \tanh\frac{z}{2}\right)`,
  secondDerivative: siluSecondDerivative,
};

export const mish: ElementwiseActivation = {
  name: 'mish',
  aliases: [],
  kind: 'elementwise',
  description: 'Mish: z times the tanh of softplus(z).',
  params: [],
  formula: String.raw`g(z) = z \tanh\left(\ln\left(1 + e^{z}\right)\right)`,
  derivativeFormula: String.raw`g'(z) = \tanh(\operatorname{softplus} z) + z\,\operatorname{sech}^2(\operatorname{softplus} z)\,\sigma(z)`,
  forward: mishForward,
  derivative: mishDerivative,
  secondDerivativeFormula: String.raw`g''(z) = 2t' + z\,t'',\quad t = \tanh(\operatorname{softplus} z),\ t' = \operatorname{sech}^2(\operatorname{softplus} z)\,\sigma(z)`,
  secondDerivative: mishSecondDerivative,
};

export const gatedFamily: readonly ElementwiseActivation[] = [gelu, geluTanh, silu, mish];
