/** Loading of the golden vectors (test/fixtures/golden, copied from shared/golden) and ulp arithmetic. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));

export function loadGolden<T>(file: string): T {
  return JSON.parse(readFileSync(dir + file, 'utf8')) as T;
}

export interface GoldenActivationCase {
  z: number;
  value: number;
  derivative: number;
  kink: boolean;
  torch_value: number;
  torch_derivative: number;
}

export interface GoldenActivation {
  name: string;
  params: Record<string, number>;
  torch_call: string;
  cases: GoldenActivationCase[];
}

export const goldenActivations = (): GoldenActivation[] =>
  loadGolden<{ activations: GoldenActivation[] }>('activations.json').activations;

/** One row or batch of softmax.json: logits and, from mpmath, everything computed from them. */
export interface GoldenSoftmaxCase {
  name: string;
  K: number;
  logits: number[] | number[][];
  probabilities: number[] | number[][];
  log_softmax: number[] | number[][];
  jacobian: number[][] | number[][][];
  v: number[] | number[][];
  vjp: number[] | number[][];
  log_softmax_vjp: number[] | number[][];
}

export const goldenSoftmax = () =>
  loadGolden<{ cases: GoldenSoftmaxCase[]; batch_cases: GoldenSoftmaxCase[] }>('softmax.json');

const scratch = new DataView(new ArrayBuffer(8));

/** The spacing of float64 numbers at x: 2^(e-52) for |x| in [2^e, 2^(e+1)), 2^-1074 below the normals. */
export function ulp(x: number): number {
  scratch.setFloat64(0, Math.abs(x));
  const biasedExponent = scratch.getUint16(0) >> 4;
  return biasedExponent === 0 ? 2 ** -1074 : 2 ** (biasedExponent - 1075);
}

/** |computed - reference| in units of ulp(reference); 0 for 0 vs -0; Infinity for NaN. */
export function ulpError(computed: number, reference: number): number {
  if (Number.isNaN(computed)) return Number.POSITIVE_INFINITY;
  if (computed === reference) return 0;
  return Math.abs(computed - reference) / ulp(reference);
}
