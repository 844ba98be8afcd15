import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gatedFamily, silu } from '../../src/core/activations/gated.js';
import { defaultParams, findActivation } from '../../src/core/activations/index.js';

describe('gated activations (gelu, gelu_tanh, silu, mish)', () => {
  it('swish is an alias of silu', () => {
    expect(findActivation('swish')).toBe(silu);
  });

  it("offer no derivative from the output (a does not determine g')", () => {
    for (const entry of gatedFamily) expect(entry.derivativeFromOutput).toBeUndefined();
  });

  it.each(gatedFamily.map((e) => [e.name, e] as const))('%s is finite for every finite z', (_name, entry) => {
    const extremes = [
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      2 ** 996,
      -(2 ** 996),
      1e20,
      -1e20,
      5e-324,
      -5e-324,
      0,
      -0,
    ];
    for (const z of extremes) {
      expect(Number.isFinite(entry.forward(z, defaultParams(entry))), `g(${z})`).toBe(true);
      expect(Number.isFinite(entry.derivative(z, defaultParams(entry))), `g'(${z})`).toBe(true);
    }
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (z) => {
        expect(Number.isFinite(entry.forward(z, defaultParams(entry)))).toBe(true);
        expect(Number.isFinite(entry.derivative(z, defaultParams(entry)))).toBe(true);
      }),
    );
  });

  it.each(gatedFamily.map((e) => [e.name, e] as const))(
    '%s derivative agrees with a central difference of the value on [-8, 8]',
    (_name, entry) => {
      fc.assert(
        fc.property(fc.double({ min: -8, max: 8, noNaN: true }), (z) => {
          const h = 1e-5;
          const slope =
            (entry.forward(z + h, defaultParams(entry)) - entry.forward(z - h, defaultParams(entry))) /
            (2 * h);
          expect(Math.abs(entry.derivative(z, defaultParams(entry)) - slope)).toBeLessThan(1e-8);
        }),
      );
    },
  );
});
