/**
 * The logistic function sigma(z) = 1/(1 + e^-z), fast and within 1 ulp for every float64 z.
 *
 * Where the time went: Math.exp is a call out of optimized code into fdlibm (most of a plain
 * 1/(1 + Math.exp(-z)), which is what tfjs-backend-cpu computes), and the exact kernel (elementary.ts
 * logistic) adds a double-double quotient with a second division on top. Here, for |z| <= 37.5:
 *
 * - W = e^-z in plain float64 from a 128-entry table of 2^(j/128) (as hi + lo) and a degree-5 polynomial for
 *   e^r - 1, |r| <= ln2/256, inlined in the element loop: W = tableValue + correction to ~2^-60 relative.
 * - 1 + W as s + sl (|sl| <= ulp(s)) by error-free sums, one division q0 = 1/s, and q0 corrected by its exact
 *   remainder 1 - q0 s (Dekker's product; JavaScript has no fma): one rounding at the end, so within
 *   0.5 ulp + 2^-7 ulp of the true value. The same code for both signs (for z < 0, W > 1): a branch on the sign
 *   or on z >= 1 (where 1 - W/(1 + W) in plain float64 is provably within 0.91 ulp, without the correction)
 *   was measured slower on mixed-sign data than the corrected path it saves.
 * - z > 37.5: 1 (1 - e^-z is within 2^-54 of 1 and rounds to it).
 * - z < -37.5: sigma(z) is e^z to within 2^-54 relative, and may be subnormal: the exact kernel, which takes
 *   care of that (rare inputs).
 *
 * test/core/logistic.test.ts checks it against a double-double reference and the exact kernel at ~5e5 points.
 */
import { dd, ddMulD, expDD, LN2 } from './double-double.js';
import { logistic } from './elementary.js';

const TABLE_BITS = 7;
const TABLE_SIZE = 1 << TABLE_BITS;

/**
 * 2^(j/128) = TABLE[2j] + TABLE[2j + 1] to ~2^-100, from the double-double exp (computed once, at load); the
 * two halves side by side, one cache line for both.
 */
const TABLE = new Float64Array(2 * TABLE_SIZE);
for (let j = 0; j < TABLE_SIZE; j++) {
  const e = expDD(ddMulD(LN2, j / TABLE_SIZE));
  const scale = 2 ** e.k;
  const hi = e.hi * scale;
  TABLE[2 * j] = hi;
  TABLE[2 * j + 1] = e.hi * scale - hi + e.lo * scale + 0;
}

/** 2^m for m in [-64, 64] at m + 64: the scale of a table entry, without a Math.pow call per element. */
const POW2_OFFSET = 64;
const POW2 = new Float64Array(2 * POW2_OFFSET + 1);
for (let m = -POW2_OFFSET; m <= POW2_OFFSET; m++) POW2[m + POW2_OFFSET] = 2 ** m;

const INV_STEP = TABLE_SIZE / Math.LN2;
// ln2/128 = STEP_HI + STEP_LO: STEP_HI on 24 bits (a float32), so k * STEP_HI is exact for |k| < 2^29 (here
// |k| <= 6926); STEP_LO is the rest, from the double-double ln 2.
const STEP_HI = Math.fround(Math.LN2 / TABLE_SIZE);
const STEP_LO = ddMulD(dd(LN2.hi - STEP_HI * TABLE_SIZE, LN2.lo), 1 / TABLE_SIZE).hi;

/** Beyond this |z|, e^-|z| < 2^-54: sigma(z) rounds to 1 (z > 0) or equals e^z to within 2^-54 (z < 0). */
const SATURATION = 37.5;

const SPLITTER = 134217729;
// Adding and subtracting 1.5 * 2^52 rounds a double of magnitude < 2^51 to an integer (ties to even).
const ROUNDER = 1.5 * 2 ** 52;

export function logisticFast(z: number): number {
  if (z > SATURATION) return 1;
  if (!(z >= -SATURATION)) return logistic(z);
  // W = e^-z, -z = (k/128) ln 2 + r with |r| <= ln2/256 (r's rounding, < 2^-62, is below what matters).
  const x = -z;
  const k = x * INV_STEP + ROUNDER - ROUNDER;
  const r = x - k * STEP_HI - k * STEP_LO;
  // e^r - 1: Taylor to r^5 (the r^6/720 left out is below 2^-60).
  const r2 = r * r;
  const q = r + r2 * (0.5 + r * (1 / 6) + r2 * (1 / 24 + r * (1 / 120)));
  // 2^(k/128) = 2^m 2^(j/128) with k = 128 m + j, |m| <= 55.
  const ki = k | 0;
  const j = (ki & (TABLE_SIZE - 1)) << 1;
  const scale = POW2[(ki >> TABLE_BITS) + POW2_OFFSET];
  const th = TABLE[j];
  // W = tableValue + correction (the correction up to 2^-8.5 of it), then 1 + W = s + sl with |sl| <= ulp(s):
  // TwoSum(1, tableValue), then Fast2Sum with the correction (|s1| >= 1 > |correction| or s1 ~ W >> it).
  const tableValue = th * scale;
  const correction = (TABLE[j + 1] + th * q) * scale;
  const s1 = 1 + tableValue;
  const b = s1 - 1;
  const e1 = 1 - (s1 - b) + (tableValue - b);
  const s = s1 + correction;
  const sl = e1 + (correction - (s - s1));
  // 1/(s + sl) = q0 (1 + delta): q0 s = p0 + p0Low exactly (Dekker), delta = 1 - q0 s - q0 sl, |delta| ~ 2^-53.
  const q0 = 1 / s;
  const p0 = q0 * s;
  let c = SPLITTER * q0;
  const qh = c - (c - q0);
  const ql = q0 - qh;
  c = SPLITTER * s;
  const sh = c - (c - s);
  const sLow = s - sh;
  const p0Low = qh * sh - p0 + qh * sLow + ql * sh + ql * sLow;
  const delta = 1 - p0 - p0Low - q0 * sl;
  return q0 + q0 * delta;
}
