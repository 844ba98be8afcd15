/**
 * Error bodies stay small: a few dozen listed errors and a count of the rest, echoed text clipped, every
 * problem+json and /v2 `{ error }` body under 16 KiB, whatever the client sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedIssues, clipText, errorBodyBudget } from '../../src/plugins/error-size.js';

const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(text)) - 2;

describe('clipText', () => {
  it('keeps text within the budget as it is, and cuts longer text to the budget with a count', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 3000 }),
        fc.integer({ min: 40, max: 2000 }),
        (text, max) => {
          const clipped = clipText(text, max);
          expect(jsonBytes(clipped)).toBeLessThanOrEqual(max);
          if (jsonBytes(text) <= max) expect(clipped).toBe(text);
          else {
            const match = /… \((\d+) more characters\)$/.exec(clipped);
            expect(match).not.toBeNull();
            const kept = clipped.slice(0, clipped.length - (match?.[0].length ?? 0));
            expect(text.startsWith(kept)).toBe(true);
            expect(kept.length + Number(match?.[1])).toBe(text.length);
          }
        },
      ),
    );
  });

  it('does not cut a surrogate pair in two', () => {
    const clipped = clipText('😀'.repeat(1000), 101);
    expect(clipped).toMatch(/^(😀)+… \(\d+ more characters\)$/u);
  });
});

describe('boundedIssues', () => {
  it(`lists the first ${errorBodyBudget.listed} and counts the rest`, () => {
    const issues = Array.from({ length: 1000 }, (_, i) => ({
      path: `/params/k${i}`,
      message: 'x'.repeat(10_000),
    }));
    const { errors, omitted } = boundedIssues(issues);
    expect(errors).toHaveLength(errorBodyBudget.listed);
    expect(errors[0].path).toBe('/params/k0');
    expect(omitted).toBe(1000 - errorBodyBudget.listed);
    expect(jsonBytes(errors[0].message)).toBeLessThanOrEqual(errorBodyBudget.message);
  });
});
