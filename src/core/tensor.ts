/**
 * Conversion between the JSON tensors of the contract (number[] for one sample, number[][] for a batch)
 * and row-major Float64Array + shape, which is all core kernels see.
 */

export type JsonTensor = number[] | number[][];

export interface Tensor {
  readonly data: Float64Array;
  /** Number of rows: 1 for a single sample. */
  readonly rows: number;
  /** Row length (K). */
  readonly cols: number;
  /** True when the JSON form was number[][] (a batch), so the reply mirrors it. */
  readonly batched: boolean;
}

/**
 * A tensor that arrived already as float64 (a binary body, or JSON parsed off the event loop) and stands in a
 * request body where the JSON array would be; routes read it like the JSON form.
 */
export class PackedTensor implements Tensor {
  constructor(
    readonly data: Float64Array,
    readonly rows: number,
    readonly cols: number,
    readonly batched: boolean,
  ) {}
}

/** The dims of a tensor's JSON form: [K] for one sample, [N, K] for a batch. */
export const dimsOf = (t: Pick<Tensor, 'rows' | 'cols' | 'batched'>): number[] =>
  t.batched ? [t.rows, t.cols] : [t.cols];

export class ShapeError extends Error {
  /** JSON pointer (relative to the tensor) of the offending element. */
  constructor(
    message: string,
    readonly pointer: string,
  ) {
    super(message);
    this.name = 'ShapeError';
  }
}

/**
 * Reads a JSON tensor; throws ShapeError on empty, ragged or non-numeric input.
 * The schema layer already rejects most of these; this is the last guard core relies on.
 */
export function fromJson(value: JsonTensor): Tensor {
  if (!Array.isArray(value) || value.length === 0) throw new ShapeError('must be a non-empty array', '');
  if (!Array.isArray(value[0])) {
    const row = value as number[];
    const data = new Float64Array(row.length);
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ShapeError('must be a finite number', `/${i}`);
      data[i] = v;
    }
    return { data, rows: 1, cols: row.length, batched: false };
  }
  const batch = value as number[][];
  const cols = batch[0].length;
  if (cols === 0) throw new ShapeError('rows must be non-empty', '/0');
  const data = new Float64Array(batch.length * cols);
  for (let r = 0; r < batch.length; r++) {
    const row = batch[r];
    if (!Array.isArray(row))
      throw new ShapeError('must be an array (all rows of a batch are arrays)', `/${r}`);
    if (row.length !== cols)
      throw new ShapeError(`ragged batch: row ${r} has ${row.length} elements, row 0 has ${cols}`, `/${r}`);
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ShapeError('must be a finite number', `/${r}/${c}`);
      data[base + c] = v;
    }
  }
  return { data, rows: batch.length, cols, batched: true };
}

/** Element count of a JSON tensor without converting it (for limits checked before any work). */
export function jsonElementCount(value: JsonTensor): number {
  if (!Array.isArray(value) || value.length === 0) return 0;
  if (!Array.isArray(value[0])) return value.length;
  let n = 0;
  for (const row of value as number[][]) n += Array.isArray(row) ? row.length : 1;
  return n;
}
