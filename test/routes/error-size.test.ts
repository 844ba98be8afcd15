/**
 * Error bodies stay small: a few dozen listed errors and a count of the rest, echoed text clipped, every
 * problem+json and /v2 `{ error }` body under 16 KiB, whatever the client sent.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { boundedIssues, clipText, errorBodyBudget, maxErrorBodyBytes } from '../../src/error-size.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';

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

describe('error bodies over HTTP: listed errors capped, echoed text clipped, every body under 16 KiB', () => {
  let app: App;
  beforeAll(async () => {
    app = await buildTestApp({ maxEventLoopDelayMs: 0 });
  });
  afterAll(() => app.close());

  const underCap = (res: { rawPayload: Buffer }) =>
    expect(res.rawPayload.length).toBeLessThan(maxErrorBodyBytes);

  it(`999 unknown params: the first ${errorBodyBudget.listed} listed, errorsOmitted counts the rest`, async () => {
    const params = Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`k${i}`, 1]));
    const res = await post(app, '/v1/activations/elu/forward', { z: [1], params });
    const problem = expectProblem(res, 400, 'invalid-request') as ReturnType<typeof expectProblem> & {
      errorsOmitted?: number;
    };
    expect(problem.errors).toHaveLength(errorBodyBudget.listed);
    expect(problem.errors?.[0].path).toBe('/params/k0');
    expect(problem.errorsOmitted).toBe(999 - errorBodyBudget.listed);
    underCap(res);
  });

  it('a 10,000-character path: the 404 detail and instance are clipped', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/${'x'.repeat(10_000)}` });
    const problem = expectProblem(res, 404);
    expect(problem.detail.length).toBeLessThan(1000);
    expect(problem.instance).toMatch(/… \(\d+ more characters\)$/);
    underCap(res);
  });

  it('/v2: an input name of 8 KB of lone surrogates (6 bytes each once escaped) is clipped in { error }', async () => {
    const name = '\\ud800'.repeat(1365);
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: { 'content-type': 'application/json' },
      payload: `{"inputs":[{"name":"${name}","shape":[1],"datatype":"FP64","data":[0]}]}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/… \(\d+ more characters\)$/);
    underCap(res);
  });

  it('/v2: data that is a large wrong value is described, not echoed', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        inputs: [{ name: 'z', shape: [2], datatype: 'FP64', data: [0, Array(100_000).fill(1)] }],
      }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe(
      'input "z": data[1] must be a finite number (got an array of 100000 elements)',
    );
  });
});
