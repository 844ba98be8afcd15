/**
 * The Open Inference Protocol's JSON tensor data, read: an input's `data` (flat, or nested as its shape) into a
 * flat row-major Float64Array, FP32 data rounded to float32. Pure, shared by the /v2 routes (which word each
 * refusal for the client) and the worker pool (which packs large bodies, and leaves any body it would refuse to
 * the event loop, so that errors read the same whatever the size).
 */
import { BinaryTensorError, elementCount, isFloatDatatype } from '../codec/binary-tensor.js';
import { JsonParseError, jsonLimits, parseJson } from '../codec/bounded-json.js';

/** Why data does not fit its shape, for the caller to word. `where` is an index path such as [2][0]. */
export type Refusal =
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'element'; readonly where: string; readonly value: unknown }
  | { readonly kind: 'dimension'; readonly where: string; readonly depth: number; readonly node: unknown };

/**
 * Flat row-major Float64Array from flat or nested JSON data, checked against the shape; `refuse` throws. The
 * nested walk is a loop over an index per dimension (an odometer), not a recursion: no data can make it deeper
 * than the shape's rank, and it builds no text unless it refuses.
 */
export function flattenData(
  data: unknown[],
  shape: readonly number[],
  count: number,
  fp32: boolean,
  refuse: (refusal: Refusal) => never,
): Float64Array {
  const out = new Float64Array(count);
  const put = (value: unknown, i: number, where: () => string) => {
    const x = typeof value === 'number' && fp32 ? Math.fround(value) : value;
    if (typeof x !== 'number' || !Number.isFinite(x)) refuse({ kind: 'element', where: where(), value });
    out[i] = x as number;
  };
  if (!Array.isArray(data[0])) {
    if (data.length !== count) refuse({ kind: 'length', length: data.length });
    for (let i = 0; i < count; i++) put(data[i], i, () => `[${i}]`);
    return out;
  }
  // Nested data must nest exactly as the shape: data[i][j]... with lengths shape[0], shape[1], ...
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const nodes = new Array<unknown[]>(rank);
  const where = (depth: number) =>
    index
      .slice(0, depth)
      .map((i) => `[${i}]`)
      .join('');
  const arrayAt = (node: unknown, depth: number): unknown[] => {
    if (Array.isArray(node) && node.length === shape[depth]) return node;
    return refuse({ kind: 'dimension', where: where(depth), depth, node });
  };
  nodes[0] = arrayAt(data, 0);
  // depth: the deepest dimension whose array in nodes is current; deeper ones are fetched before each element.
  let depth = 0;
  for (let next = 0; next < count; next++) {
    for (; depth < rank - 1; depth++) nodes[depth + 1] = arrayAt(nodes[depth][index[depth]], depth + 1);
    put(nodes[rank - 1][index[rank - 1]], next, () => where(rank));
    // Advance the last index, carrying into the ones before it.
    let d = rank - 1;
    while (d >= 0 && ++index[d] === shape[d]) index[d--] = 0;
    depth = d;
  }
  return out;
}

/** A JSON inference request with its inputs' data flattened: the request without `data`, and the data by input. */
export interface PackedInference {
  readonly header: Record<string, unknown>;
  /** The flattened data of inputs[i], at i (undefined for inputs that had none). */
  readonly data: readonly (Float64Array | undefined)[];
}

class Unpackable extends Error {}
const unpackable = (): never => {
  throw new Unpackable();
};

/**
 * A whole-JSON inference request (no binary part), its inputs' data flattened, or undefined for anything the
 * event loop would refuse or word (invalid JSON, a limit, an input that is not plainly a tensor of its shape):
 * the event loop then reads it as it reads a small body. maxElements bounds each input, and any array.
 */
export function packInference(body: Uint8Array, maxElements: number): PackedInference | undefined {
  let parsed: unknown;
  try {
    parsed = parseJson(body, 0, body.length, maxElements);
  } catch (error) {
    if (error instanceof JsonParseError) return undefined;
    throw error;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const header = parsed as Record<string, unknown>;
  const inputs = header.inputs;
  if (!Array.isArray(inputs)) return undefined;
  const data: (Float64Array | undefined)[] = [];
  try {
    for (const input of inputs as unknown[]) {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) return undefined;
      const tensor = input as Record<string, unknown>;
      const { shape, datatype } = tensor;
      const values = tensor.data;
      if (!Array.isArray(values)) {
        data.push(undefined);
        continue;
      }
      const parameters = tensor.parameters;
      if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null))
        return undefined;
      if (parameters && 'binary_data_size' in parameters) return undefined;
      if (!Array.isArray(shape) || shape.length > jsonLimits.maxRank || !isFloatDatatype(datatype))
        return undefined;
      const count = elementCount(shape);
      if (count > maxElements) return undefined;
      data.push(flattenData(values, shape, count, datatype === 'FP32', unpackable));
      delete tensor.data;
    }
  } catch (error) {
    // elementCount's refusals, and flattenData's: the event loop words them.
    if (error instanceof Unpackable || error instanceof BinaryTensorError) return undefined;
    throw error;
  }
  return { header, data };
}
