/**
 * A load generator in its own process (bench/run.ts forks it): streams large forward requests back to back
 * while the parent measures small ones, so the two clients do not share an event loop.
 * Argv: url elements seconds binary(0|1). Replies with the autocannon stats over IPC.
 */

import { tensorMediaType } from './binary-client.js';
import { forwardCase } from './bodies.js';
import { cannon } from './http.js';

const [url, elements, seconds, binary] = process.argv.slice(2);
const c = forwardCase(Number(elements));
const stats = await cannon({
  url: `${url}${c.path}`,
  body: binary === '1' ? c.binary.body : c.json,
  headers:
    binary === '1'
      ? {
          'content-type': tensorMediaType,
          accept: tensorMediaType,
          'inference-header-content-length': String(c.binary.headerLength),
        }
      : { 'content-type': 'application/json' },
  connections: 1,
  seconds: Number(seconds),
});
process.send?.(stats);
