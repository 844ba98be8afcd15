/** Error measures for comparing Float64Arrays with golden references. */

/** The smallest normal float64, 2^-1022: the floor under |reference| in relative bounds. */
export const DBL_MIN = 2 ** -1022;

export interface Worst {
  /** The largest |got - want| / bound; <= 1 means every entry is within its bound. */
  ratio: number;
  index: number;
  got: number;
  want: number;
}

/**
 * Largest |got_i - want_i| / bound_i. NaN in got counts as Infinity; 0 and -0 are equal.
 * Throws when the lengths differ, so a shape bug is never a pass.
 */
export function worstRatio(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  bound: (i: number) => number,
): Worst {
  if (got.length !== want.length) throw new Error(`length ${got.length}, expected ${want.length}`);
  let worst: Worst = { ratio: 0, index: -1, got: Number.NaN, want: Number.NaN };
  for (let i = 0; i < got.length; i++) {
    const err = got[i] === want[i] ? 0 : Math.abs(got[i] - want[i]);
    const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / bound(i);
    if (ratio > worst.ratio || worst.index < 0) worst = { ratio, index: i, got: got[i], want: want[i] };
  }
  return worst;
}

/**
 * Relative entrywise error bound tol * max(|want_i|, DBL_MIN): relative where the reference is normal,
 * absolute (tol * 2^-1022) where it is 0 or subnormal, since those carry no relative digits.
 */
export function worstRelative(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): Worst {
  return worstRatio(got, want, (i) => tol * Math.max(Math.abs(want[i]), DBL_MIN));
}

/** Euclidean norm without underflow or overflow of the squares (scaled by the largest entry). */
export function norm2(x: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] / scale) ** 2;
  return scale * Math.sqrt(sum);
}

/**
 * Normwise relative deviation ||got - want|| / max(||want||, DBL_MIN). Where the reference is all zeros (or its
 * norm is subnormal), the floor makes it absolute: ||got - want|| in units of 2^-1022.
 */
export function normwiseDeviation(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length}, expected ${want.length}`);
  const diff = new Float64Array(got.length);
  for (let i = 0; i < got.length; i++) diff[i] = got[i] === want[i] ? 0 : got[i] - want[i];
  for (const d of diff) if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
  return norm2(diff) / Math.max(norm2(want), DBL_MIN);
}

/** Flattens nested number arrays (the JSON tensors of the fixtures) into a Float64Array. */
export function flat(x: number | readonly unknown[]): Float64Array {
  if (typeof x === 'number') return Float64Array.of(x);
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const e of v) walk(e);
    else out.push(v as number);
  };
  walk(x);
  return Float64Array.from(out);
}

/**
 * Normwise relative deviation in the max norm, max |got - want| / max |want| (the golden generators' measure);
 * where the reference is all zeros (or its largest entry subnormal) the DBL_MIN floor makes it absolute.
 */
export function maxNormDeviation(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length}, expected ${want.length}`);
  let error = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] === want[i] ? 0 : Math.abs(got[i] - want[i]);
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    error = Math.max(error, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return error / Math.max(scale, DBL_MIN);
}
