/**
 * Hostile binary tensor bodies (the Open Inference Protocol's binary extension, src/codec/binary-tensor.ts):
 * a route's working example turned into a JSON header plus raw float64 bytes, then broken in its header
 * (anything hostile-json plants, plus shapes of rank 5,000 or of overflowing size, unknown datatypes, sizes
 * that do not add up, FP32 data beyond its range), in its Inference-Header-Content-Length (missing, negative,
 * not a number, past the body, given twice), in its bytes (short, trailing, NaN and Infinity), and in its
 * Content-Type and Accept.
 */
import fc from 'fast-check';
import type { FuzzRequest } from './harness.js';
import { hostileValue, type Mutation, mutation, render } from './hostile-json.js';

export const tensorMediaType = 'application/vnd.gradient-service.tensor+octet-stream';

/** A JSON header (as a value) and the bytes that follow it. */
export interface BinaryBody {
  header: Record<string, unknown>;
  bytes: Buffer;
}

const float64Bytes = (values: readonly number[]): Buffer => Buffer.from(new Float64Array(values).buffer);

/**
 * The example of a /v1 route as a binary body: its tensor fields (those of `tensorFields` it has) become
 * inputs with binary_data_size, everything else stays in the header.
 */
export function v1BinaryBody(example: Record<string, unknown>, tensorFields: readonly string[]): BinaryBody {
  const header: Record<string, unknown> = {};
  const inputs: unknown[] = [];
  const chunks: Buffer[] = [];
  for (const [key, value] of Object.entries(example)) {
    if (!tensorFields.includes(key) || !Array.isArray(value)) {
      header[key] = value;
      continue;
    }
    const batched = Array.isArray(value[0]);
    const flat = (batched ? (value as number[][]).flat() : value) as number[];
    const shape = batched ? [value.length, (value[0] as number[]).length] : [value.length];
    const bytes = float64Bytes(flat);
    inputs.push({ name: key, shape, datatype: 'FP64', parameters: { binary_data_size: bytes.length } });
    chunks.push(bytes);
  }
  return { header: { ...header, inputs }, bytes: Buffer.concat(chunks) };
}

/** The example of a /v2 inference route as a binary body: each input's data moves after the header. */
export function v2BinaryBody(example: Record<string, unknown>): BinaryBody {
  const chunks: Buffer[] = [];
  const inputs = (example.inputs as Record<string, unknown>[]).map(({ data, ...input }) => {
    const bytes = float64Bytes((data as unknown[]).flat(Number.POSITIVE_INFINITY) as number[]);
    chunks.push(bytes);
    return { ...input, parameters: { binary_data_size: bytes.length } };
  });
  return { header: { ...example, inputs }, bytes: Buffer.concat(chunks) };
}

/** Values aimed at the tensor descriptors: shapes, datatypes, sizes, names, inline data. */
const descriptorValue = fc.constantFrom(
  // shapes
  `[${new Array(5000).fill(1).join(',')}]`,
  '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]',
  '[0]',
  '[-1]',
  '[-1,3]',
  '[1.5]',
  '[3e0]',
  '[1e400]',
  '[9007199254740993]',
  '[4294967296,4294967296]',
  '[1000000,1000000,1000000]',
  '[2147483647,2147483647]',
  '["3"]',
  '[]',
  '[[3]]',
  // datatypes
  '"FP16"',
  '"FP32"',
  '"fp64"',
  '"INT64"',
  '"BYTES"',
  '"BOOL"',
  '""',
  '"FP64 "',
  // sizes
  '-8',
  '0',
  '8',
  '7',
  '24.5',
  '"24"',
  '1e400',
  '9007199254740993',
  // inline data
  '[1e300]',
  '[1e300,1e300,1e300]',
  '[3.5e38]',
  '[1e400,0,0]',
  '[null,0,0]',
  '[[1,2],[3]]',
);

export const binaryValue = fc.oneof(
  { weight: 2, arbitrary: descriptorValue },
  { weight: 2, arbitrary: hostileValue },
);

/** Field names of the descriptors, for mutations that add a key. */
export const descriptorFields = [
  'name',
  'shape',
  'datatype',
  'parameters',
  'binary_data_size',
  'data',
  'inputs',
];

/** What happens to the bytes after the header. */
export const tailChange = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'exact' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('cut' as const), bytes: fc.integer({ min: 1, max: 32 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('extra' as const), bytes: fc.integer({ min: 1, max: 4096 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('values' as const),
      value: fc.constantFrom(
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        -0,
        5e-324,
        1e308,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  },
);

export function applyTail(bytes: Buffer, change: TailChange): Buffer {
  switch (change.kind) {
    case 'exact':
      return bytes;
    case 'cut':
      return bytes.subarray(0, Math.max(0, bytes.length - change.bytes));
    case 'extra':
      return Buffer.concat([bytes, Buffer.alloc(change.bytes, 0x7f)]);
    case 'values':
      return float64Bytes(new Array(bytes.length / 8).fill(change.value));
    case 'random':
      return Buffer.from(change.bytes);
  }
}

export type TailChange =
  | { kind: 'exact' }
  | { kind: 'cut'; bytes: number }
  | { kind: 'extra'; bytes: number }
  | { kind: 'values'; value: number }
  | { kind: 'random'; bytes: Uint8Array };

/** The Inference-Header-Content-Length value(s): right, missing, or wrong in every way HTTP allows. */
export const headerLengthChange = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'missing' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('offset' as const), by: fc.integer({ min: -64, max: 64 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('value' as const),
      value: fc.constantFrom(
        '',
        ' ',
        '-1',
        '0',
        '1e3',
        '0x10',
        '+16',
        '16.0',
        '\u00b3\u00b2',
        '99999999999999999999',
        '9007199254740993',
        '18446744073709551616',
        'NaN',
        'abc',
        '1,2',
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('twice' as const), other: fc.constantFrom('0', '1', '-1') }),
  },
);

export type HeaderLengthChange =
  | { kind: 'exact' }
  | { kind: 'missing' }
  | { kind: 'offset'; by: number }
  | { kind: 'value'; value: string }
  | { kind: 'twice'; other: string };

/** Accept headers a client might send, including ones that refuse a form (q=0). */
export const accept = fc.constantFrom(
  undefined,
  '*/*',
  'application/json',
  tensorMediaType,
  `${tensorMediaType};q=0`,
  `application/json;q=0, ${tensorMediaType}`,
  `${tensorMediaType};q=0, application/json`,
  'application/json;q=0',
  'application/*;q=0.5, */*;q=0.1',
  'text/html',
  'application/octet-stream',
  ';;;,,,q=2',
);

export interface BinaryRequestParts {
  mutation: Mutation;
  tail: TailChange;
  length: HeaderLengthChange;
  contentType: string;
  accept: string | undefined;
}

/** Builds the request: header text (mutated), bytes (changed), Inference-Header-Content-Length (changed). */
export function binaryRequest(
  method: string,
  path: string,
  body: BinaryBody,
  parts: BinaryRequestParts,
): FuzzRequest {
  const headerText = Buffer.from(render(body.header, parts.mutation), 'utf8');
  const payload = Buffer.concat([headerText, applyTail(body.bytes, parts.tail)]);
  const headers: [string, string][] = [['content-type', parts.contentType]];
  if (parts.accept !== undefined) headers.push(['accept', parts.accept]);
  const length = parts.length;
  const name = 'inference-header-content-length';
  if (length.kind === 'exact') headers.push([name, String(headerText.length)]);
  else if (length.kind === 'offset') headers.push([name, String(headerText.length + length.by)]);
  else if (length.kind === 'value') headers.push([name, length.value]);
  else if (length.kind === 'twice') headers.push([name, String(headerText.length)], [name, length.other]);
  return { method, path, headers, body: payload };
}

/** A header left as it is: the other parts (length, bytes, Content-Type, Accept) alone are hostile. */
export const unchanged: Mutation = { kind: 'replace', pointer: '/no such field', raw: '' };

/** Mostly a mutation of the header, sometimes none. */
export const binaryMutation = (header: Record<string, unknown>, fieldNames: readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: mutation(header, [...fieldNames, ...descriptorFields], binaryValue) },
    { weight: 1, arbitrary: fc.constant(unchanged) },
  );
