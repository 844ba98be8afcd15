/**
 * The activation parts of test/fixtures/golden/second.json (see ORIGIN.md there, "second.json"): g'' per
 * activation and params, PyTorch's double backward beside it, and the closed forms in a.
 */
import { loadGolden } from './golden.js';

export interface GoldenSecondCase {
  z: number;
  /** g''(z), rounded to nearest (0 exactly where g' jumps or on a linear piece). */
  second: number;
  derivative: number;
  value: number;
  /** g' jumps at z. */
  kink?: boolean;
  /** z lies on a linear piece. */
  linear?: boolean;
  /** g' is continuous at z but g'' jumps; secondLeft and secondRight are its one-sided limits. */
  secondKink?: boolean;
  secondLeft?: number;
  secondRight?: number;
  /** PyTorch float64 double backward: a number, or "nan" / "inf"; absent where PyTorch gives none. */
  torch_second?: number | string;
}

export interface GoldenSecondActivation {
  name: string;
  params: Record<string, number>;
  torch_second_unavailable?: string;
  cases: GoldenSecondCase[];
}

export interface GoldenFromOutput {
  name: string;
  secondFormula: string;
  derivativeFormula: string;
  cases: { a: number; second: number; derivative: number }[];
}

interface SecondFile {
  activations: GoldenSecondActivation[];
  from_output: GoldenFromOutput[];
}

let file: SecondFile | undefined;
const second = (): SecondFile => {
  file ??= loadGolden<SecondFile>('second.json');
  return file;
};

export const goldenSecondActivations = (): GoldenSecondActivation[] => second().activations;
export const goldenFromOutput = (): GoldenFromOutput[] => second().from_output;

/** PyTorch's stored value as a number (NaN for "nan", and for a missing one). */
export const torchNumber = (v: number | string | undefined): number =>
  typeof v === 'number'
    ? v
    : v === 'inf'
      ? Number.POSITIVE_INFINITY
      : v === '-inf'
        ? Number.NEGATIVE_INFINITY
        : Number.NaN;
