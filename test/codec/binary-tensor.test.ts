import { describe, expect, it } from 'vitest';
import {
  assembleBody,
  BinaryTensorError,
  decodeFloats,
  elementCount,
  elementSize,
  encodeFloats,
  parseBinaryBody,
  sliceBinary,
  splitBody,
} from '../../src/codec/binary-tensor.js';

/** Little-endian bytes of doubles, written one by one (independent of the codec's typed-array views). */
function fp64(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    out.writeDoubleLE(v, i * 8);
  });
  return out;
}

function fp32(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    out.writeFloatLE(v, i * 4);
  });
  return out;
}

/** A body as a client builds it: JSON header, then the raw bytes; returns the header length too. */
function body(header: unknown, ...chunks: Buffer[]): { body: Buffer; length: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...chunks]), length: json.length };
}

function expectError(fn: () => unknown, pattern: RegExp, status = 400): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BinaryTensorError);
    expect((error as BinaryTensorError).status).toBe(status);
    expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected a BinaryTensorError matching ${pattern}`);
}

describe('sizes', () => {
  it('knows FP64 and FP32 and refuses other datatypes by name', () => {
    expect(elementSize('FP64')).toBe(8);
    expect(elementSize('FP32')).toBe(4);
    expectError(() => elementSize('INT32'), /unsupported datatype "INT32".*FP64 and FP32/);
    expectError(() => elementSize(undefined), /unsupported datatype/);
  });

  it('counts elements of a shape and refuses zero, negative, fractional or huge dims', () => {
    expect(elementCount([2, 3, 4])).toBe(24);
    expectError(() => elementCount([2, 0]), /positive integers/);
    expectError(() => elementCount([-1, 3]), /positive integers/);
    expectError(() => elementCount([1.5]), /positive integers/);
    expectError(() => elementCount([]), /non-empty/);
    expectError(() => elementCount([2 ** 30, 2 ** 30]), /too many elements/, 413);
  });
});

describe('decodeFloats and encodeFloats', () => {
  it('decode FP64 little-endian bytes exactly, including subnormals and -0', () => {
    const values = [1, -2.5, 5e-324, -0, Number.MAX_VALUE, Math.PI];
    const decoded = decodeFloats(fp64(values), 'FP64');
    expect(Array.from(decoded)).toEqual(values);
    expect(Object.is(decoded[3], -0)).toBe(true);
  });

  it('decode aligned FP64 without copying and misaligned FP64 by copying', () => {
    const backing = new ArrayBuffer(8 * 4 + 1);
    const aligned = new Uint8Array(backing, 8, 16);
    Buffer.from(aligned.buffer, aligned.byteOffset, aligned.byteLength).set(fp64([3, 4]));
    const view = decodeFloats(aligned, 'FP64');
    expect(view.buffer).toBe(backing);
    expect(Array.from(view)).toEqual([3, 4]);

    const misaligned = new Uint8Array(backing, 1, 16);
    Buffer.from(misaligned.buffer, misaligned.byteOffset, misaligned.byteLength).set(fp64([7, -8]));
    const copy = decodeFloats(misaligned, 'FP64');
    expect(copy.buffer).not.toBe(backing);
    expect(Array.from(copy)).toEqual([7, -8]);
  });

  it('decode FP32 to the float64 of each float32, aligned or not', () => {
    const values = [0.1, -3, 1e-40];
    const expected = values.map(Math.fround);
    expect(Array.from(decodeFloats(fp32(values), 'FP32'))).toEqual(expected);
    const shifted = Buffer.concat([Buffer.alloc(1), fp32(values)]).subarray(1);
    expect(shifted.byteOffset % 4).not.toBe(0);
    expect(Array.from(decodeFloats(shifted, 'FP32'))).toEqual(expected);
  });

  it('refuse a byte count that is not a whole number of elements', () => {
    expectError(() => decodeFloats(Buffer.alloc(12), 'FP64'), /12 bytes are not a whole number of FP64/);
  });

  it('encode FP64 as a view of the same memory, and FP32 rounded to nearest', () => {
    const data = new Float64Array([1.5, -0.1, 2 ** -1074]);
    const bytes = encodeFloats(data);
    expect(bytes.buffer).toBe(data.buffer);
    expect(Buffer.from(bytes).equals(fp64(Array.from(data)))).toBe(true);
    const single = encodeFloats(data, 'FP32');
    expect(single.byteLength).toBe(12);
    expect(Buffer.from(single).equals(fp32(Array.from(data)))).toBe(true);
  });

  it('round-trip through encode and decode', () => {
    const data = new Float64Array([0, -1e300, 1e-300, 42]);
    expect(Array.from(decodeFloats(encodeFloats(data), 'FP64'))).toEqual(Array.from(data));
  });
});

describe('splitBody', () => {
  it('parses the JSON header and returns the bytes after it', () => {
    const { body: b, length } = body({ inputs: [] }, Buffer.from([1, 2, 3]));
    const { header, binary } = splitBody(b, String(length));
    expect(header).toEqual({ inputs: [] });
    expect(Array.from(binary)).toEqual([1, 2, 3]);
  });

  it('reads the whole body as JSON when there is no header length', () => {
    const { header, binary } = splitBody(Buffer.from('{"id":"x"}'), undefined);
    expect(header).toEqual({ id: 'x' });
    expect(binary.length).toBe(0);
  });

  it('refuses a header length past the end of the body, naming both sizes', () => {
    expectError(() => splitBody(Buffer.from('{}'), '10'), /is 10 but the body has only 2 bytes/);
  });

  it('refuses a header length that is not a non-negative integer', () => {
    for (const bad of ['-1', '1.5', 'abc', ''])
      expectError(() => splitBody(Buffer.from('{}'), bad), /must be a non-negative integer/);
  });

  it('refuses a header that is not JSON, not an object, empty, or carries __proto__', () => {
    expectError(() => splitBody(Buffer.from('{"a":1'), undefined), /not valid JSON/);
    expectError(() => splitBody(Buffer.from('[1]'), undefined), /must be a JSON object/);
    expectError(() => splitBody(Buffer.from('{}xx'), '0'), /empty/);
    expectError(() => splitBody(Buffer.from('{"__proto__":{"x":1}}'), undefined), /__proto__/);
  });

  it('cuts the header at the declared length even when the binary part looks like JSON', () => {
    const { body: b, length } = body({ a: 1 }, Buffer.from('{"b":2}'));
    expect(splitBody(b, length).header).toEqual({ a: 1 });
  });
});

describe('sliceBinary and parseBinaryBody', () => {
  const inputs = [
    { name: 'z', datatype: 'FP64', shape: [2, 2], parameters: { binary_data_size: 32 } },
    { name: 'w', datatype: 'FP32', shape: [3], data: [1, 2, 3] },
    { name: 'v', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 12 } },
  ];

  it('hands out the chunks in the order of the inputs that declare binary_data_size', () => {
    const { body: b, length } = body({ inputs }, fp64([1, 2, 3, 4]), fp32([5, 6, 7]));
    const { header, chunks } = parseBinaryBody(b, length);
    expect((header.inputs as unknown[]).length).toBe(3);
    expect([...chunks.keys()]).toEqual(['z', 'v']);
    expect(Array.from(decodeFloats(chunks.get('z') as Buffer, 'FP64'))).toEqual([1, 2, 3, 4]);
    expect(Array.from(decodeFloats(chunks.get('v') as Buffer, 'FP32'))).toEqual([5, 6, 7]);
  });

  it('refuses a binary_data_size that disagrees with shape and datatype', () => {
    const bad = [{ name: 'z', datatype: 'FP64', shape: [3], parameters: { binary_data_size: 16 } }];
    expectError(
      () => sliceBinary(fp64([1, 2]), bad),
      /"z": binary_data_size is 16 bytes but shape \[3\] of FP64 needs 24/,
    );
  });

  it('refuses sizes that run past the bytes present, or leave bytes over', () => {
    const one = [{ name: 'z', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 16 } }];
    expectError(() => sliceBinary(fp64([1]), one), /runs past the 8 bytes/);
    expectError(
      () => sliceBinary(fp64([1, 2, 3]), one),
      /24 bytes follow the JSON header but .* add up to 16/,
    );
  });

  it('refuses binary bytes with no input describing them', () => {
    const { body: b, length } = body({ id: 'x' }, fp64([1]));
    expectError(() => parseBinaryBody(b, length), /no inputs array/);
    const described = body({ inputs: [{ name: 'z', datatype: 'FP64', shape: [1], data: [1] }] }, fp64([1]));
    expectError(() => parseBinaryBody(described.body, described.length), /8 bytes follow .* add up to 0/);
  });

  it('refuses an unknown datatype, a negative size, both data and binary, and a name twice', () => {
    expectError(
      () =>
        sliceBinary(Buffer.alloc(4), [
          { name: 'z', datatype: 'INT32', shape: [1], parameters: { binary_data_size: 4 } },
        ]),
      /unsupported datatype "INT32"/,
    );
    expectError(
      () =>
        sliceBinary(Buffer.alloc(0), [
          { name: 'z', datatype: 'FP64', shape: [1], parameters: { binary_data_size: -8 } },
        ]),
      /non-negative integer/,
    );
    expectError(
      () =>
        sliceBinary(fp64([1]), [
          { name: 'z', datatype: 'FP64', shape: [1], data: [1], parameters: { binary_data_size: 8 } },
        ]),
      /both binary_data_size and data/,
    );
    const twice = { name: 'z', datatype: 'FP64', shape: [1], parameters: { binary_data_size: 8 } };
    expectError(() => sliceBinary(fp64([1, 2]), [twice, twice]), /appears twice/);
  });
});

describe('assembleBody', () => {
  it('writes the JSON header, then the chunks, and reports the header length', () => {
    const header = {
      outputs: [{ name: 'a', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 16 } }],
    };
    const { body: b, headerLength } = assembleBody(header, [encodeFloats(new Float64Array([0.5, 0.25]))]);
    expect(headerLength).toBe(Buffer.byteLength(JSON.stringify(header)));
    const { header: parsed, binary } = splitBody(b, headerLength);
    expect(parsed).toEqual(header);
    expect(binary.equals(fp64([0.5, 0.25]))).toBe(true);
  });
});
