/**
 * The reply writer gives exactly JSON.stringify's text for the nested arrays (shortest round-trip digits),
 * so every finite double survives the trip; -0 is written as 0, as JSON.stringify always did.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nestedArray, tensorJson } from '../../src/serialize/json-writer.js';
import { replyJson } from '../../src/serialize/reply.js';

/** Any finite double, with the edges drawn often: subnormals, -0, the extremes. */
const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -2.2250738585072014e-308, max: 2.2250738585072014e-308, noNaN: true }),
  fc.constantFrom(
    -0,
    0,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    1e21,
    1e-7,
  ),
);

const sameDouble = (got: number, want: number) => Object.is(got, Object.is(want, -0) ? 0 : want);

describe('tensorJson', () => {
  it('is JSON.stringify of the numbers and parses back to the same doubles', () => {
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 64 }), (xs) => {
        const text = tensorJson(Float64Array.from(xs), [xs.length]);
        expect(text).toBe(JSON.stringify(xs));
        const back = JSON.parse(text) as number[];
        expect(back.every((v, i) => sameDouble(v, xs[i]))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('lays out [N][K] and [N][K][K] row-major, as the nested JSON', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), finite, (N, K, seed) => {
        const data = Float64Array.from({ length: N * K * K }, (_, i) => seed / (i + 1));
        const want = Array.from({ length: N }, (_, n) =>
          Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => data[(n * K + i) * K + j])),
        );
        expect(tensorJson(data, [N, K, K])).toBe(JSON.stringify(want));
        const rows = Array.from({ length: N }, (_, n) => Array.from(data.subarray(n * K, (n + 1) * K)));
        expect(tensorJson(data.subarray(0, N * K), [N, K])).toBe(JSON.stringify(rows));
      }),
    );
  });

  it('writes subnormals and -0 as JSON.stringify does', () => {
    const edge = [
      5e-324, -5e-324, 2.225073858507201e-308, 2.2250738585072014e-308, -0, 1.7976931348623157e308,
    ];
    expect(tensorJson(Float64Array.from(edge), [edge.length])).toBe(JSON.stringify(edge));
    expect(JSON.stringify(nestedArray(Float64Array.of(-0), [1]))).toBe('[0]');
  });

  it('writes a reply object with tensors and numbers in field order', () => {
    const text = replyJson([
      { name: 'loss', value: 0.1 + 0.2 },
      { name: 'z', data: Float64Array.of(1 / 3, -2), dims: [2] },
      { name: 'w', data: Float64Array.of(1, 2, 3, 4), dims: [2, 2] },
    ]);
    expect(text).toBe(
      JSON.stringify({
        loss: 0.1 + 0.2,
        z: [1 / 3, -2],
        w: [
          [1, 2],
          [3, 4],
        ],
      }),
    );
  });
});
