/**
 * Compares gradients computed elsewhere with the service's, entry by entry, under allclose semantics:
 * an entry agrees when |got - expected| <= atol + rtol |expected| (numpy.allclose, torch.allclose).
 */
/** What the given quantities are checked against: the network's results, with its curvature products when computed. */
export interface CheckedResult {
  readonly loss: number;
  readonly layers: readonly {
    readonly weightGradient: Float64Array;
    readonly biasGradient: Float64Array;
    readonly weightProduct?: Float64Array;
    readonly biasProduct?: Float64Array;
  }[];
  readonly inputGradient: Float64Array;
}

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

export interface WorstEntry {
  /** Position in the tensor, one index per dimension ([] for a scalar such as the loss). */
  readonly index: number[];
  readonly expected: number;
  readonly got: number;
}

export interface TensorCheck {
  /** JSON pointer of the checked quantity in the request's `gradients` (e.g. "/layers/0/weightGradient"). */
  readonly path: string;
  readonly passed: boolean;
  /** Entries outside the tolerance. */
  readonly mismatches: number;
  readonly maxAbsError: number;
  /** max |got - expected| / |expected| over the entries whose expected value is not 0 (0 when there are none). */
  readonly maxRelError: number;
  /** max |got - expected| / max |expected|; the max absolute error when every expected entry is 0. */
  readonly normwiseRelError: number;
  /** The entry furthest outside its tolerance (in units of atol + rtol |expected|), or the largest error. */
  readonly worst: WorstEntry;
}

/** The multi-index of flat position i in a row-major tensor of the given dims. */
export function unravel(i: number, dims: readonly number[]): number[] {
  const index = new Array<number>(dims.length);
  let rest = i;
  for (let d = dims.length - 1; d >= 0; d--) {
    index[d] = rest % dims[d];
    rest = Math.floor(rest / dims[d]);
  }
  return index;
}

/**
 * |got - expected| without overflowing to Infinity (which JSON cannot carry): where the difference of two
 * finite numbers exceeds MAX_VALUE it is reported as MAX_VALUE, still far outside any tolerance.
 */
function absoluteError(got: number, expected: number): number {
  const error = Math.abs(got - expected);
  return error === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : error;
}

/**
 * One tensor's check. got and expected are row-major with the same dims (callers check shapes first and
 * answer a mismatch with a 400 naming the path; a length mismatch here is a caller bug).
 */
export function checkTensor(
  path: string,
  got: ArrayLike<number>,
  expected: ArrayLike<number>,
  dims: readonly number[],
  { rtol, atol }: Tolerance,
): TensorCheck {
  if (got.length !== expected.length || got.length === 0)
    throw new RangeError(`check ${path}: ${got.length} entries given, ${expected.length} expected`);
  let mismatches = 0;
  let maxAbsError = 0;
  let maxRelError = 0;
  let maxExpected = 0;
  // The worst entry: largest error / tolerance first, then the largest absolute error (tolerance 0 makes every
  // inexact entry infinitely far out), then the first position.
  let worstAt = 0;
  let worstRatio = -1;
  let worstError = -1;
  for (let i = 0; i < got.length; i++) {
    const error = absoluteError(got[i], expected[i]);
    const magnitude = Math.abs(expected[i]);
    const tolerance = atol + rtol * magnitude;
    if (!(error <= tolerance)) mismatches++;
    if (error > maxAbsError) maxAbsError = error;
    if (magnitude > maxExpected) maxExpected = magnitude;
    if (magnitude !== 0) maxRelError = Math.max(maxRelError, error / magnitude);
    const ratio = error === 0 ? 0 : tolerance === 0 ? Number.POSITIVE_INFINITY : error / tolerance;
    if (ratio > worstRatio || (ratio === worstRatio && error > worstError)) {
      worstAt = i;
      worstRatio = ratio;
      worstError = error;
    }
  }
  return {
    path,
    passed: mismatches === 0,
    mismatches,
    maxAbsError,
    // error / magnitude can exceed MAX_VALUE for a tiny expected value: keep it a JSON number.
    maxRelError: Math.min(maxRelError, Number.MAX_VALUE),
    normwiseRelError: maxExpected === 0 ? maxAbsError : Math.min(maxAbsError / maxExpected, Number.MAX_VALUE),
    worst: { index: unravel(worstAt, dims), expected: expected[worstAt], got: got[worstAt] },
  };
}

/** The overall verdict: every check passed. */
export const allPassed = (checks: readonly TensorCheck[]): boolean => checks.every((c) => c.passed);

/** Gradients computed elsewhere, any subset of them (as Float64Arrays, row-major like the network's). */
export interface GivenGradients {
  readonly loss?: number;
  /** Per layer, first to last; null or absent entries (and fields) are not checked. */
  readonly layers?: readonly ({
    readonly weightGradient?: Float64Array;
    readonly biasGradient?: Float64Array;
    /** (C v) for W_l and b_l: checked only against a result that has them (a request with a vector). */
    readonly weightProduct?: Float64Array;
    readonly biasProduct?: Float64Array;
  } | null)[];
  readonly inputGradient?: Float64Array;
}

/**
 * Checks every given gradient against the network's, in the order /loss, /layers/<l>/weightGradient,
 * /layers/<l>/biasGradient, /layers/<l>/weightProduct, /layers/<l>/biasProduct, /inputGradient. inputDims are
 * the dims of x ([M] or [N, M]). A given product without one in the result is a caller bug (RangeError).
 */
export function checkNetworkGradients(
  result: CheckedResult,
  layerSizes: readonly { readonly M: number; readonly K: number }[],
  inputDims: readonly number[],
  given: GivenGradients,
  tolerance: Tolerance,
): TensorCheck[] {
  const checks: TensorCheck[] = [];
  if (given.loss !== undefined) checks.push(checkTensor('/loss', [given.loss], [result.loss], [], tolerance));
  for (const [l, layer] of (given.layers ?? []).entries()) {
    if (!layer) continue;
    const { M, K } = layerSizes[l];
    const expected = result.layers[l];
    if (layer.weightGradient)
      checks.push(
        checkTensor(
          `/layers/${l}/weightGradient`,
          layer.weightGradient,
          expected.weightGradient,
          [M, K],
          tolerance,
        ),
      );
    if (layer.biasGradient)
      checks.push(
        checkTensor(`/layers/${l}/biasGradient`, layer.biasGradient, expected.biasGradient, [K], tolerance),
      );
    for (const [quantity, dims] of [
      ['weightProduct', [M, K]],
      ['biasProduct', [K]],
    ] as const) {
      const got = layer[quantity];
      if (!got) continue;
      const want = expected[quantity];
      if (!want) throw new RangeError(`check /layers/${l}/${quantity}: no product computed (no vector)`);
      checks.push(checkTensor(`/layers/${l}/${quantity}`, got, want, dims, tolerance));
    }
  }
  if (given.inputGradient)
    checks.push(
      checkTensor('/inputGradient', given.inputGradient, result.inputGradient, inputDims, tolerance),
    );
  return checks;
}
