/** Dotted reply field names (per-layer results) nest in the JSON reply and stay flat tensor names in binary. */
import { describe, expect, it } from 'vitest';
import { replyBinary, replyJson } from '../../src/serialize/reply.js';

const fields = [
  { name: 'loss', value: 0.5 },
  { name: 'layers.0.z', data: Float64Array.of(1, 2), dims: [2] },
  { name: 'layers.0.weightGradient', data: Float64Array.of(1, 2, 3, 4), dims: [2, 2] },
  { name: 'layers.1.weightGradient', data: Float64Array.of(5, 6), dims: [2, 1] },
  { name: 'inputGradient', data: Float64Array.of(7), dims: [1] },
];

describe('dotted reply names', () => {
  it('nest into arrays (digit parts) and objects in the JSON reply, in field order', () => {
    expect(replyJson(fields)).toBe(
      JSON.stringify({
        loss: 0.5,
        layers: [
          {
            z: [1, 2],
            weightGradient: [
              [1, 2],
              [3, 4],
            ],
          },
          { weightGradient: [[5], [6]] },
        ],
        inputGradient: [7],
      }),
    );
  });

  it('stay flat output names in the binary reply', () => {
    const { body, headerLength } = replyBinary(fields);
    const header = JSON.parse(body.toString('utf8', 0, headerLength));
    expect(header.loss).toBe(0.5);
    expect(header.outputs.map((o: { name: string }) => o.name)).toEqual([
      'layers.0.z',
      'layers.0.weightGradient',
      'layers.1.weightGradient',
      'inputGradient',
    ]);
  });
});
