/**
 * The binary tensor data extension of the Open Inference Protocol (KServe v2 / Triton): a body is a JSON
 * header of `Inference-Header-Content-Length` bytes followed by the raw bytes of the tensors that declare
 * `parameters.binary_data_size`, in the order they appear, each little-endian, row-major, unpadded.
 * Pure functions over Buffers (no Fastify), so that any route can speak it.
 *
 * API:
 * - `splitBody(body, headerLength)`: the JSON header (parsed) and the bytes after it. headerLength
 *   undefined means the whole body is JSON (the protocol's rule when the header is absent).
 * - `sliceBinary(binary, tensors, what)`: the bytes of each tensor declaring binary_data_size, by name,
 *   checking each size against shape x datatype and that the sizes add up to exactly the bytes present.
 * - `parseBinaryBody(body, headerLength)`: both, over header.inputs (a v2 inference request).
 * - `decodeFloats(bytes, datatype)`: FP64 / FP32 bytes -> Float64Array (a view, no copy, for aligned FP64).
 * - `encodeFloats(data, datatype)`: Float64Array -> FP64 bytes (a view, no copy) or FP32 bytes.
 * - `assembleBody(header, chunks)`: JSON header + chunks -> { body, headerLength } for the response.
 * - `elementSize(datatype)`, `elementCount(shape)`: validated sizes.
 * Every failure is a BinaryTensorError with a message for the caller and the HTTP status it deserves.
 */
import { endianness } from 'node:os';
import { JsonParseError, jsonLimitNames, jsonLimits, parseJson } from './bounded-json.js';

/** The datatypes the service reads and writes: all its math is float64, FP32 is converted at the edge. */
export const floatDatatypes = ['FP64', 'FP32'] as const;
export type FloatDatatype = (typeof floatDatatypes)[number];

/** The header name, lower-cased as Node presents incoming headers. */
export const headerLengthHeader = 'inference-header-content-length';

export class BinaryTensorError extends Error {
  constructor(
    message: string,
    /** 400 for a malformed body, 413 for a size beyond a limit. */
    readonly status: 400 | 413 = 400,
    /** What kind of refusal: the JSON header is not JSON, a parsing limit (jsonLimits) is crossed, or other. */
    readonly reason: 'invalid' | 'not-json' | 'limit' = 'invalid',
  ) {
    super(message);
    this.name = 'BinaryTensorError';
  }
}

/** What sliceBinary needs to know of a tensor: the v2 $request_input / $response_output fields. */
export interface TensorDescriptor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data?: unknown;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

// Typed-array views read the host's byte order; the protocol's is little-endian.
const littleEndianHost = endianness() === 'LE';

const sizes: Record<FloatDatatype, number> = { FP64: 8, FP32: 4 };

export function isFloatDatatype(datatype: unknown): datatype is FloatDatatype {
  return typeof datatype === 'string' && (floatDatatypes as readonly string[]).includes(datatype);
}

/**
 * Bytes per element; unknown datatypes (including the protocol's INT*, BOOL, BYTES, FP16) are a 400, whose
 * message starts with `label` when given (the tensor it is about).
 */
export function elementSize(datatype: unknown, label?: string): number {
  if (!isFloatDatatype(datatype))
    throw new BinaryTensorError(
      `${label ? `${label}: ` : ''}unsupported datatype ${JSON.stringify(datatype)}: this server reads and writes ${floatDatatypes.join(' and ')}`,
    );
  return sizes[datatype];
}

/** Product of the dims; each must be a positive integer and the product a safe integer. */
export function elementCount(shape: readonly unknown[], what = 'tensor'): number {
  if (!Array.isArray(shape) || shape.length === 0)
    throw new BinaryTensorError(`${what}: shape must be a non-empty array of positive integers`);
  let count = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 1)
      throw new BinaryTensorError(
        `${what}: shape ${JSON.stringify(shape)} must hold positive integers (got ${JSON.stringify(dim)})`,
      );
    count *= dim;
    if (!Number.isSafeInteger(count))
      throw new BinaryTensorError(`${what}: shape ${JSON.stringify(shape)} has too many elements`, 413);
  }
  return count;
}

/**
 * Splits a body into its JSON header and the bytes after it. headerLength comes from the
 * Inference-Header-Content-Length request header (a string, as HTTP has it, or a number).
 */
export function splitBody(
  body: Buffer,
  headerLength: string | number | undefined,
): { header: unknown; binary: Buffer } {
  let length = body.length;
  if (headerLength !== undefined) {
    const text = String(headerLength).trim();
    length = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(length))
      throw new BinaryTensorError(
        `Inference-Header-Content-Length must be a non-negative integer (got ${JSON.stringify(headerLength)})`,
      );
    if (length > body.length)
      throw new BinaryTensorError(
        `Inference-Header-Content-Length is ${length} but the body has only ${body.length} bytes`,
      );
  }
  if (length === 0)
    throw new BinaryTensorError('the JSON header is empty: the body must start with a JSON object');
  let header: unknown;
  try {
    // Bounded: depth, keys and string lengths are checked before anything is built (src/codec/bounded-json.ts),
    // and __proto__ or constructor keys are refused.
    header = parseJson(body, 0, length);
  } catch (error) {
    if (!(error instanceof JsonParseError)) throw error;
    const what = headerLength === undefined ? 'the body' : `the JSON header (the first ${length} bytes)`;
    if (error.kind === 'syntax')
      throw new BinaryTensorError(`${what} is not valid JSON: ${error.message}`, 400, 'not-json');
    if (error.kind === 'limit')
      throw new BinaryTensorError(`${what} is beyond a parsing limit: ${error.message}`, 400, 'limit');
    throw new BinaryTensorError(`${what} is refused: ${error.message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new BinaryTensorError('the JSON header must be a JSON object');
  return { header, binary: body.subarray(length) };
}

/**
 * The bytes of each tensor that declares parameters.binary_data_size, in order, keyed by name. Checks
 * that each size is shape x datatype, that no such tensor also has `data`, and that the declared sizes
 * add up to exactly the bytes after the header (neither short nor trailing).
 */
export function sliceBinary(
  binary: Buffer,
  tensors: readonly TensorDescriptor[],
  what = 'input',
): Map<string, Buffer> {
  const chunks = new Map<string, Buffer>();
  let offset = 0;
  for (const tensor of tensors) {
    const size = tensor.parameters?.binary_data_size;
    if (size === undefined) continue;
    const label = `${what} ${JSON.stringify(tensor.name)}`;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new BinaryTensorError(
        `${label}: binary_data_size must be a non-negative integer (got ${JSON.stringify(size)})`,
      );
    if (tensor.data !== undefined)
      throw new BinaryTensorError(`${label}: has both binary_data_size and data; send one of them`);
    const expected = elementCount(tensor.shape, label) * elementSize(tensor.datatype, label);
    if (size !== expected)
      throw new BinaryTensorError(
        `${label}: binary_data_size is ${size} bytes but shape ${JSON.stringify(tensor.shape)} of ${tensor.datatype} needs ${expected}`,
      );
    if (offset + size > binary.length)
      throw new BinaryTensorError(
        `${label}: binary_data_size ${size} at byte ${offset} runs past the ${binary.length} bytes after the JSON header`,
      );
    if (chunks.has(tensor.name)) throw new BinaryTensorError(`${label}: appears twice`);
    chunks.set(tensor.name, binary.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== binary.length)
    throw new BinaryTensorError(
      `${binary.length} bytes follow the JSON header but the ${what}s' binary_data_size add up to ${offset}`,
    );
  return chunks;
}

/** splitBody + sliceBinary over header.inputs: a v2 inference request with binary inputs. */
export function parseBinaryBody(
  body: Buffer,
  headerLength: string | number | undefined,
): { header: Record<string, unknown>; chunks: Map<string, Buffer> } {
  const { header, binary } = splitBody(body, headerLength);
  const inputs = (header as Record<string, unknown>).inputs;
  if (!Array.isArray(inputs)) {
    if (binary.length > 0)
      throw new BinaryTensorError(
        'bytes follow the JSON header, but it has no inputs array to describe them',
      );
    return { header: header as Record<string, unknown>, chunks: new Map() };
  }
  for (const [i, input] of inputs.entries()) {
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new BinaryTensorError(`inputs[${i}] must be an object`);
    const { shape } = input as TensorDescriptor;
    // Before anything reads the shape (sizes, messages that quote it): a shape is a few numbers, not thousands.
    if (Array.isArray(shape) && shape.length > jsonLimits.maxRank)
      throw new BinaryTensorError(
        `the shape of inputs[${i}] has ${shape.length} dimensions; at most ${jsonLimits.maxRank} are allowed (the limit of ${jsonLimitNames.maxRank})`,
        400,
        'limit',
      );
  }
  return {
    header: header as Record<string, unknown>,
    chunks: sliceBinary(binary, inputs as TensorDescriptor[]),
  };
}

/**
 * Little-endian FP64 / FP32 bytes -> Float64Array. Aligned FP64 on a little-endian host is a view on the
 * same memory (no copy: callers must not reuse the buffer while the view lives); anything else is copied.
 */
export function decodeFloats(bytes: Uint8Array, datatype: unknown): Float64Array {
  const size = elementSize(datatype);
  if (bytes.byteLength % size !== 0)
    throw new BinaryTensorError(`${bytes.byteLength} bytes are not a whole number of ${datatype} elements`);
  const n = bytes.byteLength / size;
  const aligned = bytes.byteOffset % size === 0;
  if (datatype === 'FP64') {
    if (littleEndianHost && aligned) return new Float64Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Float64Array(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
  if (littleEndianHost && aligned)
    return Float64Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, n));
  const out = new Float64Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Float64Array -> little-endian bytes: FP64 is a view on data's memory (no copy), FP32 rounds each
 * element to nearest float32 (values beyond ±3.4e38 become ±Infinity: callers check finiteness).
 */
export function encodeFloats(data: Float64Array, datatype: FloatDatatype = 'FP64'): Uint8Array {
  elementSize(datatype);
  if (datatype === 'FP64') {
    if (littleEndianHost) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(data.length * 8);
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat64(i * 8, data[i], true);
    return out;
  }
  if (littleEndianHost) {
    const f32 = Float32Array.from(data);
    return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  }
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/** A response body: the JSON header, then the chunks in order; headerLength goes in the response header. */
export function assembleBody(
  header: unknown,
  chunks: readonly Uint8Array[],
): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}
