/**
 * Properties every elementwise entry of the table must have, whatever its formula: finite results for
 * finite inputs, a derivative that matches a finite difference of the forward wherever g is smooth, and
 * a derivative from the output that matches the derivative from z. Kinks are found from the forward
 * alone, so no activation is named here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultParams, type ElementwiseActivation, type Params } from '../../src/core/activations/index.js';
import {
  anyFinite,
  elementwise,
  kinkNear,
  moderate,
  nearDefaultParams,
} from '../support/activation-arbitraries.js';

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
        fc.pre(!kinkNear((x) => entry.forward(x, params), z));
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
