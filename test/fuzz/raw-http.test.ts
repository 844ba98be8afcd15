/**
 * Malformed HTTP on a raw socket (what no client library sends: both Content-Length and Transfer-Encoding,
 * bad framing, bad request lines, header sections past the limit, bare LF, bodies that never arrive): every
 * request gets an answer, never a 5xx, in its surface's shape (problem+json outside /v2, `{ error }` under it),
 * under 16 KB; afterwards the server answers normally and its retained heap is bounded.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { answerTimeoutMs, fuzzSettings } from './harness.js';
import { rawRequest } from './hostile-http.js';
import { violations } from './properties.js';
import { exchange, parseResponse } from './raw-client.js';
import { examplePath } from './routes.js';
import { appRoutes, fuzzSession } from './suite.js';

const routes = await appRoutes();

/** Short timeouts, so that a request whose body never comes gets its 408 within a couple of seconds. */
const timeouts = { headersTimeoutMs: 1000, requestTimeoutMs: 2000 };

describe('malformed HTTP on a raw socket', () => {
  it(
    'every request gets an answer: no 5xx, the surface error shape, small',
    () =>
      fuzzSession(
        async ({ server }) => {
          const paths = routes.map(examplePath);
          await fc.assert(
            fc.asyncProperty(rawRequest(paths), async (request) => {
              const { raw, closed } = await exchange(server.port, request.bytes, answerTimeoutMs);
              const shown = request[fc.toStringMethod]?.() ?? '';
              const answer = parseResponse(raw);
              if (!answer)
                throw new Error(
                  `${closed ? 'the connection closed' : 'no answer within the timeout'} without a response ` +
                    `(${raw.length} bytes: ${JSON.stringify(raw.toString('latin1', 0, 200))}) to ${shown}`,
                );
              const method = request.bytes.toString('latin1', 0, 8).split(' ')[0];
              const broken = violations(method, request.target, answer);
              if (broken.length) throw new Error(`${broken.join('\n')}\n  request: ${shown}`);
            }),
            { ...fuzzSettings(100), endOnFailure: true },
          );
        },
        { overrides: timeouts },
      ),
    300_000,
  );
});
