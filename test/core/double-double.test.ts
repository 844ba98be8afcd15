import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DD,
  ddAdd,
  ddDiv,
  ddMul,
  ddMulD,
  expDD,
  expScaled,
  fastTwoSum,
  ldexp,
  pow2,
  twoProd,
  twoSum,
} from '../../src/core/numeric/double-double.js';
import { ulpError } from '../support/golden.js';

/** x * 2^1074 as an exact BigInt: every finite double is an integer multiple of 2^-1074. */
function exact(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const biased = (bits >> 52n) & 0x7ffn;
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0n ? fraction : fraction | (1n << 52n);
  const shift = biased === 0n ? 0n : biased - 1n;
  return sign * (mantissa << shift);
}
const exactDD = (x: DD) => exact(x.hi) + exact(x.lo);
const abs = (n: bigint) => (n < 0n ? -n : n);
/** |got - want| <= c * 2^-106 * |want|, for integers on a common scale. */
const withinU2 = (got: bigint, want: bigint, c: number) =>
  abs(got - want) * 2n ** 106n <= (BigInt(Math.ceil(c * 1024)) * abs(want)) / 1024n + 1n;

// Magnitudes where no product or error term leaves the normal range, and splitting cannot overflow.
const moderate = fc
  .double({ min: 2 ** -400, max: 2 ** 400, noNaN: true })
  .chain((m) => fc.boolean().map((negative) => (negative ? -m : m)));
/** A normalized pair hi + lo with lo about 2^-53..2^-80 of hi. */
const pair = fc
  .tuple(moderate, fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: 53, max: 80 }))
  .map(([hi, r, s]) => twoSum(hi, hi * r * 2 ** -s));

describe('error-free transformations', () => {
  it('twoSum: s + e is exactly a + b', () => {
    fc.assert(
      fc.property(moderate, moderate, (a, b) => {
        const s = twoSum(a, b);
        expect(s.hi).toBe(a + b);
        expect(exactDD(s)).toBe(exact(a) + exact(b));
      }),
    );
  });

  it('fastTwoSum: exact when |a| >= |b|', () => {
    fc.assert(
      fc.property(moderate, moderate, (x, y) => {
        const [a, b] = Math.abs(x) >= Math.abs(y) ? [x, y] : [y, x];
        expect(exactDD(fastTwoSum(a, b))).toBe(exact(a) + exact(b));
      }),
    );
  });

  it('twoProd: p + e is exactly a * b (Dekker splitting, no fma)', () => {
    fc.assert(
      fc.property(moderate, moderate, (a, b) => {
        const p = twoProd(a, b);
        expect(p.hi).toBe(a * b);
        expect(exactDD(p) * 2n ** 1074n).toBe(exact(a) * exact(b));
      }),
    );
  });
});

describe('double-double operations meet the Joldes-Muller-Popescu bounds', () => {
  const scale = 2n ** 1074n;

  it('ddAdd: relative error <= 3u^2', () => {
    fc.assert(
      fc.property(pair, pair, (x, y) => {
        expect(withinU2(exactDD(ddAdd(x, y)), exactDD(x) + exactDD(y), 3)).toBe(true);
      }),
    );
  });

  it('ddAdd keeps its accuracy under cancellation', () => {
    const x = twoSum(1, 2 ** -60);
    const y = twoSum(-1, 2 ** -100);
    const s = ddAdd(x, y);
    expect(s.hi + s.lo).toBe(2 ** -60 + 2 ** -100);
  });

  it('ddMulD: relative error <= 1.5u^2 (+ 4u^3)', () => {
    fc.assert(
      fc.property(pair, moderate, (x, b) => {
        expect(withinU2(exactDD(ddMulD(x, b)) * scale, exactDD(x) * exact(b), 1.5001)).toBe(true);
      }),
    );
  });

  it('ddMul: relative error <= 7u^2', () => {
    fc.assert(
      fc.property(pair, pair, (x, y) => {
        expect(withinU2(exactDD(ddMul(x, y)) * scale, exactDD(x) * exactDD(y), 7)).toBe(true);
      }),
    );
  });

  it('ddDiv: relative error <= 15u^2 (checked as |q y - x| against |x|)', () => {
    fc.assert(
      fc.property(pair, pair, (x, y) => {
        const q = ddDiv(x, y);
        expect(withinU2(exactDD(q) * exactDD(y), exactDD(x) * scale, 16)).toBe(true);
      }),
    );
  });
});

describe('powers of two and ldexp', () => {
  it('pow2 is exact over the whole float64 exponent range, 0 below it', () => {
    for (let k = -1074; k <= 1023; k++) expect(pow2(k)).toBe(2 ** k);
    expect(pow2(-1075)).toBe(0);
  });

  it('ldexp rounds once, at the end, into the subnormal range', () => {
    // (1 + 2^-52) 2^-1075 is just above half of 2^-1074: one rounding gives 2^-1074, while 2^-1075
    // alone already underflows to 0.
    expect(ldexp(1 + 2 ** -52, -1075)).toBe(2 ** -1074);
    expect(ldexp(1.5, -1074)).toBe(2 ** -1073); // tie, to even
    expect(ldexp(1.25, -1074)).toBe(2 ** -1074);
    expect(ldexp(-1.75, -1060)).toBe(-1.75 * 2 ** -1060);
    expect(ldexp(1.5, 1023)).toBe(1.5 * 2 ** 1023);
    expect(ldexp(1, -1200)).toBe(0);
  });
});

// e^x = (hi + lo) 2^k from mpmath at 60 digits: [x, hi, lo, k].
const EXP_REFERENCE: readonly (readonly [number, number, number, number])[] = [
  [1.0, 1.3591409142295225, 7.228234458646251e-17, 1],
  [-1.0, 0.7357588823428847, -2.4857507345576725e-17, -1],
  [0.5, 0.8243606353500641, -2.3657842397179166e-17, 1],
  [-0.3, 0.7408182206817179, -1.805530505953e-18, 0],
  [10.0, 1.3443887814213085, -8.410726745921248e-17, 14],
  [-745.0, 1.1425002949421084, -3.168228304494958e-17, -1075],
  [-1000.5, 0.7492980440395389, 4.258055033288727e-17, -1443],
  [700.0, 0.9243612084022901, 1.5189751190223617e-17, 1010],
  [-0.34657359027997264, Math.SQRT1_2, -4.013739792746569e-17, 0],
];

describe('exp with a power-of-two scale', () => {
  it.each(EXP_REFERENCE)('expDD(%d) is within 1e-31 + 3e-33 |k| relative of mpmath', (x, hi, lo, k) => {
    const e = expDD({ hi: x, lo: 0 });
    expect(e.k).toBe(k);
    const diff = ddAdd(e, { hi: -hi, lo: -lo });
    expect(Math.abs(diff.hi + diff.lo)).toBeLessThanOrEqual((1e-31 + 3e-33 * Math.abs(k)) * hi);
  });

  it('expDD(x) expDD(-x) = 1 to double-double precision', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -700, max: 700, noNaN: true }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        (h, r) => {
          const x = twoSum(h, h * r * 2 ** -60);
          const a = expDD(x);
          const b = expDD({ hi: -x.hi, lo: -x.lo });
          const p = ddMul(a, b);
          expect(a.k + b.k).toBe(0);
          expect(Math.abs(p.hi - 1 + p.lo)).toBeLessThan(1e-30);
        },
      ),
    );
  });

  it.each(EXP_REFERENCE)('expScaled(%d) has its mantissa within 1 ulp and the same scale', (x, hi, lo, k) => {
    const e = expScaled(x);
    expect(e.k).toBe(k);
    expect(ulpError(e.m, hi + lo)).toBeLessThanOrEqual(1);
  });

  it('expScaled takes the low part of a double-double argument into account', () => {
    // e^(1 + 2^-60) = e (1 + 2^-60): the mantissa must move from e^1's by ~2^-60 relative, i.e. stay
    // within 1 ulp of e^1's but differ from expScaled(1) in the right direction or not at all.
    const base = expScaled(1);
    const shifted = expScaled(1, 2 ** -45);
    expect(shifted.m / base.m - 1).toBeCloseTo(2 ** -45, 20);
  });
});
