/**
 * Properties every elementwise entry of the table must have, whatever its formula: finite results for
 * finite inputs, a derivative that matches a finite difference of the forward wherever g is smooth, and
 * a derivative from the output that matches the derivative from z. Kinks are found from the forward
 * alone, so no activation is named here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  activations,
  defaultParams,
  type ElementwiseActivation,
  type Params,
  resolveParams,
} from '../../src/core/activations/index.js';

const elementwise = activations.filter((e): e is ElementwiseActivation => e.kind === 'elementwise');

// Beyond MAX_VALUE / 2 an activation that scales z by a constant above 1 has no finite true value.
const LARGEST = Number.MAX_VALUE / 2;
const anyFinite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -LARGEST, max: LARGEST });

/** |z| in [1e-3, 30], either sign: where finite differences of the forward are meaningful. */
const moderate = fc
  .tuple(fc.double({ noNaN: true, min: 1e-3, max: 30 }), fc.boolean())
  .map(([size, negative]) => (negative ? -size : size));

/** Params near the defaults (each scaled by 2^u, u in [-1, 1]), kept only when the entry accepts them. */
function nearDefaultParams(entry: ElementwiseActivation): fc.Arbitrary<Params | undefined> {
  const perParam = entry.params.map((spec) =>
    fc
      .double({ noNaN: true, min: -1, max: 1 })
      .map((u) => [spec.name, spec.default === 0 ? u : spec.default * 2 ** u] as const),
  );
  return fc.tuple(...perParam).map((pairs) => {
    const resolved = resolveParams(entry, Object.fromEntries(pairs));
    return 'params' in resolved ? resolved.params : undefined;
  });
}

/**
 * Whether g has a kink (a jump of g') within H = 1e-3 max(1, |z|) of z: the one-sided slopes over H
 * then differ by about the jump, while for a smooth g they differ by H g'' only.
 */
function kinkNear(entry: ElementwiseActivation, z: number, params: Params): boolean {
  const step = 1e-3 * Math.max(1, Math.abs(z));
  const g = (x: number) => entry.forward(x, params);
  const left = (g(z) - g(z - step)) / step;
  const right = (g(z + step) - g(z)) / step;
  return Math.abs(right - left) > 0.02 * Math.max(1, Math.abs(left), Math.abs(right));
}

/** Central difference with a step of 1e-6 max(1, |z|) (truncation ~1e-12, rounding ~1e-10). */
function centralDifference(entry: ElementwiseActivation, z: number, params: Params): number {
  const step = 1e-6 * Math.max(1, Math.abs(z));
  const above = z + step;
  const below = z - step;
  return (entry.forward(above, params) - entry.forward(below, params)) / (above - below);
}

const RUNS = 1000;

describe.each(elementwise.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
  const defaults = defaultParams(entry);

  it('forward and derivative are finite for every finite z (default params)', () => {
    fc.assert(
      fc.property(anyFinite, (z) => {
        expect(Number.isFinite(entry.forward(z, defaults)), `g(${z})`).toBe(true);
        expect(Number.isFinite(entry.derivative(z, defaults)), `g'(${z})`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  if (entry.params.length > 0) {
    it('forward and derivative are finite for every finite z (params near the defaults)', () => {
      fc.assert(
        fc.property(anyFinite, nearDefaultParams(entry), (z, params) => {
          fc.pre(params !== undefined);
          if (!params) return;
          const label = `z=${z}, params=${JSON.stringify(params)}`;
          expect(Number.isFinite(entry.forward(z, params)), `g: ${label}`).toBe(true);
          expect(Number.isFinite(entry.derivative(z, params)), `g': ${label}`).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('derivative agrees with a central finite difference of the forward wherever g is smooth', () => {
    fc.assert(
      fc.property(moderate, nearDefaultParams(entry), (z, nearParams) => {
        const params = nearParams ?? defaults;
        fc.pre(!kinkNear(entry, z, params));
        const derivative = entry.derivative(z, params);
        const difference = centralDifference(entry, z, params);
        expect(
          Math.abs(derivative - difference),
          `z=${z}, params=${JSON.stringify(params)}: g'=${derivative}, finite difference ${difference}`,
        ).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(derivative)));
      }),
      { numRuns: RUNS },
    );
  });

  const fromOutput = entry.derivativeFromOutput;
  if (fromOutput) {
    it('derivative from the output a = g(z) agrees with the derivative from z', () => {
      fc.assert(
        fc.property(anyFinite, nearDefaultParams(entry), (z, nearParams) => {
          const params = nearParams ?? defaults;
          const a = entry.forward(z, params);
          const derivative = entry.derivative(z, params);
          // a carries the forward's rounding: allow a few ulp of 1 (or of g' when it is larger).
          expect(
            Math.abs(fromOutput(a, params) - derivative),
            `z=${z}, a=${a}, params=${JSON.stringify(params)}`,
          ).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(derivative)));
        }),
        { numRuns: RUNS },
      );
    });
  }
});
