/**
 * TEMPORARY (branch second-net): g'' for a few entries until the table's secondDerivative kernels arrive from
 * branch second-act; deleted then. Not exported from the table, not accurate far out.
 */
import { logistic, sech2, tanh } from '../numeric/elementary.js';
import type { ElementwiseActivation, Params } from './types.js';

const kernels: Record<string, (z: number, params: Params) => number> = {
  identity: () => 0,
  relu: () => 0,
  leaky_relu: () => 0,
  hardtanh: () => 0,
  sigmoid: (z) => {
    const s = logistic(z);
    const c = logistic(-z);
    return s * c * (c - s);
  },
  tanh: (z) => -2 * tanh(z) * sech2(z),
  softplus: (z, { beta }) => beta * logistic(beta * z) * logistic(-beta * z),
};

export function secondDerivativeOf(entry: ElementwiseActivation): (z: number, params: Params) => number {
  const k = kernels[entry.name];
  if (!k) throw new RangeError(`temporary shim: no g'' for ${entry.name}`);
  return k;
}
