/**
 * Accuracy of the @stdlib erf/erfc that gelu builds on (fdlibm's rational approximations).
 * Reference: erf and erfc at exactly representable x, computed with mpmath 1.3.0 at 50 digits and
 * correctly rounded to float64 (through a 40-digit decimal string, so subnormals are rounded once).
 * The same mpmath setup reproduces every gelu value of test/fixtures/golden/activations.json.
 */
import erf from '@stdlib/math-base-special-erf';
import erfc from '@stdlib/math-base-special-erfc';
import { describe, expect, it } from 'vitest';
import { ulpError } from '../support/golden.js';

// [x, erfc(x), erf(x)]
const REFERENCE: readonly (readonly [number, number, number])[] = [
  [-5.0, 1.9999999999984626, -0.9999999999984626],
  [-2.0, 1.9953222650189528, -0.9953222650189527],
  [-1.0, 1.8427007929497148, -0.8427007929497149],
  [-0.5, 1.5204998778130465, -0.5204998778130465],
  [-0.1, 1.1124629160182848, -0.1124629160182849],
  [-1e-10, 1.000000000112838, -1.1283791670955126e-10],
  [1e-300, 1.0, 1.1283791670955126e-300],
  [1e-10, 0.999999999887162, 1.1283791670955126e-10],
  [0.01, 0.9887165844441503, 0.011283415555849618],
  [0.1, 0.887537083981715, 0.1124629160182849],
  [0.25, 0.7236736098317631, 0.27632639016823696],
  [0.46875, 0.507386526782062, 0.49261347321793797],
  [0.5, 0.4795001221869535, 0.5204998778130465],
  [0.75, 0.28884436634648486, 0.7111556336535151],
  [0.84375, 0.23277433876765838, 0.7672256612323416],
  [1.0, 0.15729920705028513, 0.8427007929497149],
  [1.25, 0.07709987174354177, 0.9229001282564583],
  [1.5, 0.033894853524689274, 0.9661051464753108],
  [2.0, 0.004677734981047266, 0.9953222650189527],
  [2.5, 0.0004069520174449589, 0.999593047982555],
  [2.857142857142857, 5.3312311388322795e-5, 0.9999466876886117],
  [3.0, 2.209049699858544e-5, 0.9999779095030014],
  [4.0, 1.541725790028002e-8, 0.9999999845827421],
  [5.0, 1.537459794428035e-12, 0.9999999999984626],
  [6.0, 2.1519736712498913e-17, 1.0],
  [7.5, 2.776649386030569e-26, 1.0],
  [10.0, 2.088487583762545e-45, 1.0],
  [15.0, 7.212994172451207e-100, 1.0],
  [20.0, 5.395865611607901e-176, 1.0],
  [25.0, 8.300172571196523e-274, 1.0],
  [26.5, 2.2109076642637343e-307, 1.0],
  [27.0, 5.23705e-319, 1.0],
  [27.2, 1e-323, 1.0],
  // Points where erfc is 2 ulp off, found on a 12,100-point mpmath scan of [-3, 27.3] (106 such points):
  [0.84, 0.23485728854500548, 0.7651427114549945],
  [4.782, 1.3537876052182485e-11, 0.9999999999864622],
  [8.658, 1.8031192160935436e-34, 1.0],
  [12.777845748127358, 5.4317032636666714e-73, 1.0],
  [19.80587637041365, 1.236497745728898e-172, 1.0],
  [23.03965083466574, 7.144156423606963e-233, 1.0],
];

function worst(f: (x: number) => number, column: 1 | 2) {
  return REFERENCE.map((row) => ({ x: row[0], got: f(row[0]), want: row[column] }))
    .map((r) => ({ ...r, ulp: ulpError(r.got, r.want) }))
    .reduce((a, b) => (b.ulp > a.ulp ? b : a));
}

describe('@stdlib erf and erfc against mpmath', () => {
  // Measured: erfc up to 2 ulp (x in [0.84, 27]), which is what bounds gelu's value at ~3 ulp for z < 0;
  // gelu adds only its final rounding to it.
  it('erfc is within 2 ulp, down to its subnormal tail', () => {
    const w = worst(erfc, 1);
    expect(w.ulp, `worst at x=${w.x}: got ${w.got}, want ${w.want}`).toBeLessThanOrEqual(2);
  });

  it('erf is within 1 ulp', () => {
    const w = worst(erf, 2);
    expect(w.ulp, `worst at x=${w.x}: got ${w.got}, want ${w.want}`).toBeLessThanOrEqual(1);
  });

  it('erfc(x) loses relative accuracy once it is subnormal (why gelu switches to the asymptotic series)', () => {
    // 27 and 27.2 give erfc below 2^-1022: the absolute error stays within a few 2^-1074, but the
    // relative error is no longer bounded by an ulp of a normal number.
    for (const x of [27, 27.2]) {
      const want = REFERENCE.find((r) => r[0] === x)?.[1] ?? Number.NaN;
      expect(want).toBeLessThan(2 ** -1022);
      expect(Math.abs(erfc(x) - want)).toBeLessThanOrEqual(4 * 2 ** -1074);
    }
  });
});
