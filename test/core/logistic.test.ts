/**
 * The table-driven sigmoid (src/core/numeric/logistic.ts) against a double-double reference (e^-|z| from
 * expDD, ~1e-30 relative, then the quotient in double-double) at a dense set of points, and against the exact
 * kernel it replaced on the forward path.
 */
import { describe, expect, it } from 'vitest';
import { dd, ddAddD, ddDiv, expDD, ldexp } from '../../src/core/numeric/double-double.js';
import { logistic } from '../../src/core/numeric/elementary.js';
import { logisticFast } from '../../src/core/numeric/logistic.js';
import { ulpError } from '../support/golden.js';

/** sigma(z) to ~1e-30 relative, rounded once to a double. */
function reference(z: number): number {
  const e = expDD(dd(-Math.abs(z)));
  const E = { hi: ldexp(e.hi, e.k), lo: ldexp(e.lo, e.k) };
  const r = z >= 0 ? ddDiv(dd(1), ddAddD(E, 1)) : ddDiv(E, ddAddD(E, 1));
  return r.hi + r.lo;
}

/** Every point the check visits: a fine grid over the whole range that matters, the edges, and a seeded spray. */
function points(): number[] {
  const zs: number[] = [];
  for (let i = -200_000; i <= 200_000; i++) zs.push(i / 5_000); // [-40, 40] by 2e-4
  for (const edge of [
    0,
    1,
    37.5,
    2 ** -1074,
    1e-300,
    1e-17,
    0.5,
    Math.LN2,
    36,
    37.4,
    37.6,
    700,
    708.5,
    745,
    800,
  ])
    for (const z of [edge, -edge, edge * (1 + 2 ** -52), edge * (1 - 2 ** -53)]) zs.push(z);
  let s = 12345;
  for (let i = 0; i < 100_000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    // log-uniform magnitudes from 2^-40 to 2^9.6, both signs
    zs.push((s & 1 ? 1 : -1) * 2 ** (-40 + (49.6 * (s >>> 1)) / 2 ** 31));
  }
  return zs;
}

describe('sigmoid fast path', () => {
  const zs = points();

  it('is within 1 ulp of the double-double reference at every point', () => {
    let worst = { z: 0, ulp: 0 };
    let notNearest = 0;
    for (const z of zs) {
      const want = reference(z);
      const ulp = ulpError(logisticFast(z), want);
      if (ulp > 0) notNearest++;
      if (ulp > worst.ulp) worst = { z, ulp };
    }
    expect(worst.ulp, `worst at z=${worst.z}`).toBeLessThanOrEqual(1);
    // Corrected by its exact remainder nearly everywhere: off the nearest double only near ties.
    expect(notNearest / zs.length).toBeLessThan(0.01);
  });

  it('agrees with the exact kernel to within 1 ulp at every point', () => {
    let worst = { z: 0, ulp: 0 };
    for (const z of zs) {
      const ulp = ulpError(logisticFast(z), logistic(z));
      if (ulp > worst.ulp) worst = { z, ulp };
    }
    expect(worst.ulp, `worst at z=${worst.z}`).toBeLessThanOrEqual(1);
  });

  it('keeps the limits: 1 beyond saturation, e^z far left, 1/2 at 0, finite and in [0, 1] everywhere', () => {
    expect(logisticFast(0)).toBe(0.5);
    expect(logisticFast(-0)).toBe(0.5);
    expect(logisticFast(40)).toBe(1);
    expect(logisticFast(1e308)).toBe(1);
    expect(logisticFast(-1e308)).toBe(0);
    expect(logisticFast(-700)).toBe(logistic(-700));
    expect(logisticFast(-745)).toBeGreaterThan(0);
    const outside = zs.filter((z) => {
      const a = logisticFast(z);
      return !(a >= 0 && a <= 1);
    });
    expect(outside).toEqual([]);
  });
});
