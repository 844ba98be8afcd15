/** fast-check inputs for the activation table's properties, and the kink detector they share. */
import fc from 'fast-check';
import {
  activations,
  type ElementwiseActivation,
  type Params,
  resolveParams,
} from '../../src/core/activations/index.js';

export const elementwise = activations.filter((e): e is ElementwiseActivation => e.kind === 'elementwise');

// Beyond MAX_VALUE / 2 an activation that scales z by a constant above 1 has no finite true value.
const LARGEST = Number.MAX_VALUE / 2;
export const anyFinite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -LARGEST, max: LARGEST });

/** |z| in [1e-3, 30], either sign: where finite differences of the forward are meaningful. */
export const moderate = fc
  .tuple(fc.double({ noNaN: true, min: 1e-3, max: 30 }), fc.boolean())
  .map(([size, negative]) => (negative ? -size : size));

/** Params near the defaults (each scaled by 2^u, u in [-1, 1]), kept only when the entry accepts them. */
export function nearDefaultParams(entry: ElementwiseActivation): fc.Arbitrary<Params | undefined> {
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
 * Whether f has a kink (a jump of its slope) within H = 1e-3 max(1, |z|) of z: the one-sided slopes over H
 * then differ by about the jump, while for a smooth f they differ by H f'' only. With f = g it finds the
 * jumps of g', with f = g' those of g''.
 */
export function kinkNear(f: (x: number) => number, z: number): boolean {
  const step = 1e-3 * Math.max(1, Math.abs(z));
  const left = (f(z) - f(z - step)) / step;
  const right = (f(z + step) - f(z)) / step;
  return Math.abs(right - left) > 0.02 * Math.max(1, Math.abs(left), Math.abs(right));
}
