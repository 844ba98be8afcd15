/**
 * Hostile binary tensor bodies on every route that takes them (/v1: the tensor media type; /v2 inference:
 * application/octet-stream with Inference-Header-Content-Length), against a real listening server: no 5xx, the
 * surface's error shape, error bodies under 16 KB, no reply in a media type the Accept header refused; after
 * each request the route's normal request still gets its 200 through the pool; afterwards every route answers
 * as before and the retained heap is bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FuzzServer, send } from './harness.js';
import {
  accept,
  type BinaryBody,
  binaryMutation,
  binaryRequest,
  headerLengthChange,
  tailChange,
  tensorMediaType,
  unchanged,
  v1BinaryBody,
  v2BinaryBody,
} from './hostile-binary.js';
import { examplePath, isV2Path, type Route } from './routes.js';
import { appRoutes, checkRoute, fuzzSession, fuzzTestTimeout, pathFor, runsPerRoute } from './suite.js';

const routes = await appRoutes();

/** The routes that take binary tensors, each with its example as a binary body and its Content-Types. */
const binaryRoutes = routes.flatMap((route) => {
  const example = route.bodies.get('application/json') as Record<string, unknown> | undefined;
  if (!example) return [];
  if (route.binaryTensorFields.length)
    return [{ route, body: v1BinaryBody(example, route.binaryTensorFields), contentType: tensorMediaType }];
  if (isV2Path(route.template) && route.mediaTypes.includes('application/octet-stream'))
    return [{ route, body: v2BinaryBody(example), contentType: 'application/octet-stream' }];
  return [];
});

const contentTypes = (own: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(own) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `${own}; charset=binary`,
        own.toUpperCase(),
        tensorMediaType,
        'application/octet-stream',
        'application/json',
        `${own}, application/json`,
      ),
    },
  );

describe('hostile binary tensor bodies', () => {
  it('every route that takes binary tensors is fuzzed (/v1 and /v2)', () => {
    const templates = binaryRoutes.map((r) => r.route.template);
    expect(templates.some((t) => t.startsWith('/v1/'))).toBe(true);
    expect(templates.some((t) => t.startsWith('/v2/'))).toBe(true);
  });

  for (const { route, body, contentType } of binaryRoutes)
    it(
      `${route.method} ${route.template}: hostile headers, lengths, descriptors and bytes`,
      () =>
        fuzzSession(
          async (session) => {
            await sendWorkingExample(session.server, route, body, contentType);
            const requests = fc
              .record({
                path: pathFor(route),
                mutation: binaryMutation(body.header, route.fieldNames),
                tail: tailChange,
                length: headerLengthChange,
                contentType: contentTypes(contentType),
                accept,
              })
              .map(({ path, ...parts }) => binaryRequest(route.method, path, body, parts));
            await checkRoute(session, route, requests, runsPerRoute(240, binaryRoutes.length));
          },
          { route },
        ),
      fuzzTestTimeout,
    );
});

/** The unbroken binary example is a 200: the mutations start from a body the route accepts. */
async function sendWorkingExample(server: FuzzServer, route: Route, body: BinaryBody, contentType: string) {
  const request = binaryRequest(route.method, examplePath(route), body, {
    mutation: unchanged,
    tail: { kind: 'exact' },
    length: { kind: 'exact' },
    contentType,
    accept: undefined,
  });
  const answer = await send(server, request);
  expect(answer.status, answer.body.toString('utf8', 0, 300)).toBe(200);
}
