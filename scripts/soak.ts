/**
 * Soak run (not a test): mixed valid and hostile traffic at a fixed rate for a given time, then a report of
 * requests by kind and status, p50/p99 latency, the server's RSS and heap at start and end, transport errors.
 *
 *   npm run soak -- [--seconds 60] [--rate 100] [--url http://host:port] [--connections 16] [--seed N]
 *                   [--key API_KEY] [--no-build]
 *
 * Without --url it builds the service (npm run build) and starts dist/server.js itself on a free port of
 * 127.0.0.1 (OFFLOAD_THRESHOLD=1000, so the padded requests below go through the worker pool), and stops it
 * with SIGTERM at the end. The traffic is open-loop: request i is due at start + i / rate whatever the answers
 * (latency counts from that moment, so a stalled server cannot hide behind a slowed client). Valid requests
 * come from the service's own OpenAPI document (every operation's example, also as a binary body and padded
 * past the offload threshold); hostile ones from the fuzz suite's generators (test/fuzz/): structurally hostile
 * JSON, hostile binary tensor bodies, hostile URLs and methods, malformed HTTP on raw sockets.
 *
 * Exit status 1 when any request got a 5xx, any valid request got anything but a 2xx, any request got no
 * answer (a transport error), or the server did not answer /healthz at the end; the figures alone never fail it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { Pool } from 'undici';
import {
  accept,
  binaryMutation,
  binaryRequest,
  headerLengthChange,
  tailChange,
  tensorMediaType,
  unchanged,
  v1BinaryBody,
  v2BinaryBody,
} from '../test/fuzz/hostile-binary.js';
import { hostileUrlRequest, rawRequest } from '../test/fuzz/hostile-http.js';
import { jsonContentType, mutation, padding, render } from '../test/fuzz/hostile-json.js';
import { violations } from '../test/fuzz/properties.js';
import { exchange, parseResponse, requestAnswer } from '../test/fuzz/raw-client.js';
import { documentedRoutes, examplePath, isV2Path, type Route } from '../test/fuzz/routes.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '100' },
    url: { type: 'string' },
    connections: { type: 'string', default: '16' },
    seed: { type: 'string', default: '20261129' },
    key: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const rate = Number(args.rate);
const seed = Number(args.seed);
if (!(seconds > 0) || !(rate > 0) || !Number.isSafeInteger(seed)) {
  console.error('soak: --seconds and --rate must be positive numbers, --seed an integer');
  process.exit(2);
}

/** How long one answer may take before it counts as a transport error (a hang). */
const answerTimeoutMs = 30_000;
/** Requests due while this many are still in flight are not sent (counted as dropped: the client saturated). */
const maxInFlight = Math.max(200, rate * 10);

interface Outgoing {
  kind: string;
  /** A valid request: anything but a 2xx is a failure. */
  valid: boolean;
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Buffer;
  /** Bytes for a raw socket instead of an HTTP client request. */
  raw?: Buffer;
  rawTarget?: string;
}

// ---- the server ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForHealth(origin: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${origin}/healthz did not answer 200 within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const serverLog = '.tmp/soak-server.log';

async function startBuiltServer() {
  if (!args['no-build']) {
    console.log('soak: npm run build');
    execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  }
  const port = await freePort();
  // The server's log goes to a file (hostile requests make it long); its path is in the report.
  mkdirSync('.tmp', { recursive: true });
  const log = openSync(serverLog, 'w');
  const child = spawn(process.execPath, ['dist/server.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      OFFLOAD_THRESHOLD: '1000',
    },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const origin = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitForHealth(origin, 30_000),
    exited.then(({ code }) => {
      throw new Error(`dist/server.js exited (code ${code}) before it answered`);
    }),
  ]);
  return {
    origin,
    child,
    exited,
    description: `dist/server.js (pid ${child.pid}, OFFLOAD_THRESHOLD=1000, log in ${serverLog})`,
  };
}

// ---- the traffic --------------------------------------------------------------------------------------------

/** Memory figures from /metrics (prom-client's process and Node metrics). */
async function memory(client: Pool, headers: [string, string][]): Promise<{ rss?: number; heap?: number }> {
  try {
    const res = await client.request({ method: 'GET', path: '/metrics', headers: headers.flat() });
    const text = await res.body.text();
    const metric = (name: string) => {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
      return match ? Number(match[1]) : undefined;
    };
    return { rss: metric('process_resident_memory_bytes'), heap: metric('nodejs_heap_size_used_bytes') };
  } catch {
    return {};
  }
}

/** The request generators, by kind, each with its weight in the mix. */
function trafficMix(routes: Route[], auth: [string, string][]) {
  const json = 'application/json';
  const bodyRoutes = routes.filter((r) => r.bodies.has(json));
  const getRoutes = routes.filter((r) => r.method === 'GET' && !r.template.includes('/versions/'));
  const binaryRoutes = bodyRoutes.flatMap((route) => {
    const example = route.bodies.get(json) as Record<string, unknown>;
    if (route.binaryTensorFields.length)
      return [{ route, body: v1BinaryBody(example, route.binaryTensorFields), contentType: tensorMediaType }];
    if (isV2Path(route.template) && route.mediaTypes.includes('application/octet-stream'))
      return [{ route, body: v2BinaryBody(example), contentType: 'application/octet-stream' }];
    return [];
  });
  const pick = <T>(items: readonly T[], r: number) => items[Math.floor(r * items.length) % items.length];
  const exampleBody = (route: Route) => JSON.stringify(route.bodies.get(json));

  const hostileJson = bodyRoutes.map((route) =>
    fc
      .record({
        mutation: mutation(route.bodies.get(json), route.fieldNames),
        padding: padding(),
        contentType: jsonContentType,
      })
      .map(({ mutation, padding, contentType }) => ({
        method: route.method,
        path: examplePath(route),
        headers: contentType ? ([['content-type', contentType]] as [string, string][]) : [],
        body: padding.before + render(route.bodies.get(json), mutation) + padding.after,
      })),
  );
  const hostileBinary = binaryRoutes.map(({ route, body, contentType }) =>
    fc
      .record({
        mutation: binaryMutation(body.header, route.fieldNames),
        tail: tailChange,
        length: headerLengthChange,
        accept,
      })
      .map((parts) => binaryRequest(route.method, examplePath(route), body, { ...parts, contentType })),
  );
  const hostileUrl = routes.map(hostileUrlRequest);
  const raw = rawRequest(routes.map(examplePath));

  let draw = 0;
  const sample = <T>(arbitrary: fc.Arbitrary<T>): T =>
    fc.sample(arbitrary, { numRuns: 1, seed: seed + draw++ })[0];

  const kinds: { kind: string; weight: number; make: (r: number) => Outgoing }[] = [
    {
      kind: 'valid',
      weight: 50,
      make: (r) => {
        const route = pick(bodyRoutes, r);
        return {
          kind: 'valid',
          valid: true,
          method: route.method,
          path: examplePath(route),
          headers: [['content-type', json]],
          body: exampleBody(route),
        };
      },
    },
    {
      kind: 'valid-get',
      weight: 10,
      make: (r) => {
        const route = pick(getRoutes, r);
        return { kind: 'valid-get', valid: true, method: 'GET', path: examplePath(route), headers: [] };
      },
    },
    {
      kind: 'valid-binary',
      weight: 5,
      make: (r) => {
        const { route, body, contentType } = pick(binaryRoutes, r);
        const request = binaryRequest(route.method, examplePath(route), body, {
          mutation: unchanged,
          tail: { kind: 'exact' },
          length: { kind: 'exact' },
          contentType,
          accept: undefined,
        });
        return { kind: 'valid-binary', valid: true, ...request };
      },
    },
    {
      kind: 'valid-pooled',
      weight: 10,
      make: (r) => {
        const route = pick(bodyRoutes, r);
        const body = `${exampleBody(route)}${' '.repeat(16_384)}`;
        return {
          kind: 'valid-pooled',
          valid: true,
          method: route.method,
          path: examplePath(route),
          headers: [['content-type', json]],
          body,
        };
      },
    },
    {
      kind: 'hostile-json',
      weight: 12,
      make: (r) => ({ kind: 'hostile-json', valid: false, ...sample(pick(hostileJson, r)) }),
    },
    {
      kind: 'hostile-binary',
      weight: 6,
      make: (r) => ({ kind: 'hostile-binary', valid: false, ...sample(pick(hostileBinary, r)) }),
    },
    {
      kind: 'hostile-url',
      weight: 5,
      make: (r) => ({ kind: 'hostile-url', valid: false, ...sample(pick(hostileUrl, r)) }),
    },
    {
      kind: 'malformed-http',
      weight: 2,
      make: () => {
        const request = sample(raw);
        return {
          kind: 'malformed-http',
          valid: false,
          method: '',
          path: request.target,
          headers: [],
          raw: request.bytes,
          rawTarget: request.target,
        };
      },
    },
  ];
  const total = kinds.reduce((n, k) => n + k.weight, 0);
  // A deterministic sequence of kinds and picks from the seed (mulberry32).
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (): Outgoing => {
    let at = random() * total;
    let kind = kinds[0];
    for (const candidate of kinds) {
      kind = candidate;
      at -= candidate.weight;
      if (at < 0) break;
    }
    const request = kind.make(random());
    request.headers = [...auth, ...request.headers];
    return request;
  };
}

// ---- the run ------------------------------------------------------------------------------------------------

const server = args.url ? undefined : await startBuiltServer();
const origin = (args.url ?? server?.origin ?? '').replace(/\/$/, '');
const auth: [string, string][] = args.key ? [['authorization', `Bearer ${args.key}`]] : [];
const client = new Pool(origin, {
  connections: Number(args.connections),
  pipelining: 1,
  keepAliveTimeout: 30_000,
  headersTimeout: answerTimeoutMs,
  bodyTimeout: answerTimeoutMs,
});
const { port, hostname } = new URL(origin);

const document = await (
  await client.request({ method: 'GET', path: '/openapi.json', headers: auth.flat() })
).body.json();
const next = trafficMix(documentedRoutes(document as Parameters<typeof documentedRoutes>[0]), auth);
const startMemory = await memory(client, auth);

console.log(
  `soak: ${seconds} s at ${rate} requests/s against ${origin}${server ? ` (${server.description})` : ''}, seed ${seed}`,
);

const byKind = new Map<string, Map<string, number>>();
const latencies: number[] = [];
const failures: string[] = [];
let sent = 0;
let answered = 0;
let transportErrors = 0;
let dropped = 0;
let inFlight = 0;

const count = (kind: string, outcome: string) => {
  const table = byKind.get(kind) ?? new Map<string, number>();
  table.set(outcome, (table.get(outcome) ?? 0) + 1);
  byKind.set(kind, table);
};
/** Error answers in the wrong shape or over 16 KB: reported (the fuzz suite fails on them), not failing the soak. */
const notes: string[] = [];
const note = (message: string) => {
  if (notes.length < 10) notes.push(message);
};
const fail = (message: string) => {
  if (failures.length < 20) failures.push(message.length > 600 ? `${message.slice(0, 600)}...` : message);
};
const describe = (r: Outgoing) =>
  `${r.kind} ${r.method} ${r.path.slice(0, 120)} (${r.raw?.length ?? Buffer.byteLength(r.body ?? '')} bytes)`;

async function fire(request: Outgoing, due: number): Promise<void> {
  inFlight++;
  sent++;
  try {
    let answer: Parameters<typeof violations>[2];
    if (request.raw) {
      // Twice the answer timeout: a request whose body never comes gets its 408 only after REQUEST_TIMEOUT_MS
      // (30 s by default) and the server's next sweep of its connections.
      const { raw, closed } = await exchange(Number(port), request.raw, 2 * answerTimeoutMs, hostname);
      const parsed = parseResponse(raw);
      if (!parsed) {
        transportErrors++;
        count(request.kind, 'no answer');
        fail(`${closed ? 'connection closed' : 'timeout'} without a response: ${describe(request)}`);
        return;
      }
      answer = parsed;
    } else {
      answer = await requestAnswer(client, request);
    }
    answered++;
    latencies.push(performance.now() - due);
    count(request.kind, String(answer.status));
    if (answer.status >= 500)
      fail(`${answer.status} ${answer.body.toString('utf8', 0, 200)}: ${describe(request)}`);
    else if (request.valid && (answer.status < 200 || answer.status >= 300))
      fail(
        `a valid request got ${answer.status} ${answer.body.toString('utf8', 0, 200)}: ${describe(request)}`,
      );
    const broken = violations(request.method || 'GET', request.rawTarget ?? request.path, answer).filter(
      (v) => !v.startsWith('status'),
    );
    if (broken.length) {
      count(request.kind, 'shape/size violation');
      note(`${broken[0].slice(0, 300)}: ${describe(request)}`);
    }
  } catch (error) {
    // undici refusing to send a request (a header value it will not write) is the generator's fault, not the
    // server's: counted apart, never a transport error.
    if ((error as { code?: string }).code === 'UND_ERR_INVALID_ARG') {
      count(request.kind, 'not sent (invalid for the client)');
      note(`not sent: ${(error as Error).message}: ${describe(request)}`);
      return;
    }
    transportErrors++;
    count(request.kind, 'transport error');
    fail(`transport error ${(error as Error).message}: ${describe(request)}`);
  } finally {
    inFlight--;
  }
}

const started = performance.now();
const end = started + seconds * 1000;
const pending = new Set<Promise<void>>();
for (let i = 0; ; i++) {
  const due = started + (i * 1000) / rate;
  if (due >= end) break;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const request = next();
  if (inFlight >= maxInFlight) {
    dropped++;
    continue;
  }
  const p = fire(request, due);
  pending.add(p);
  p.finally(() => pending.delete(p));
}
await Promise.all(pending);
const elapsed = (performance.now() - started) / 1000;

// ---- the report ---------------------------------------------------------------------------------------------

const endMemory = await memory(client, auth);
let healthy = false;
try {
  const res = await client.request({ method: 'GET', path: '/healthz', headers: auth.flat() });
  await res.body.dump();
  healthy = res.statusCode === 200;
} catch {
  healthy = false;
}
await client.close();

const sorted = [...latencies].sort((a, b) => a - b);
const quantile = (q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN;
const mb = (bytes?: number) => (bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const byStatus = new Map<string, number>();
for (const table of byKind.values())
  for (const [outcome, n] of table) byStatus.set(outcome, (byStatus.get(outcome) ?? 0) + n);
const line = (table: Map<string, number>) =>
  [...table]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, n]) => `${outcome}: ${n}`)
    .join(', ');

console.log(
  `requests: ${sent} sent in ${elapsed.toFixed(1)} s, ${answered} answered, ${transportErrors} transport errors, ${dropped} dropped (client saturated)`,
);
console.log(`by status: ${line(byStatus)}`);
for (const [kind, table] of [...byKind].sort(([a], [b]) => a.localeCompare(b)))
  console.log(`  ${kind.padEnd(15)} ${line(table)}`);
console.log(
  `latency (from the due time): p50 ${quantile(0.5).toFixed(1)} ms, p90 ${quantile(0.9).toFixed(1)} ms, p99 ${quantile(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms`,
);
console.log(
  `server RSS: start ${mb(startMemory.rss)}, end ${mb(endMemory.rss)}; heap used: start ${mb(startMemory.heap)}, end ${mb(endMemory.heap)}`,
);
console.log(`health at the end: ${healthy ? '200' : 'NO ANSWER / not 200'}`);

if (server) {
  server.child.kill('SIGTERM');
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000));
  const exit = await Promise.race([server.exited, timeout]);
  if (!exit) {
    server.child.kill('SIGKILL');
    console.log('server: did not exit within 30 s of SIGTERM (killed)');
  } else console.log(`server: exited with ${exit.code ?? exit.signal} after SIGTERM`);
}

const fiveXx = [...byStatus].filter(([s]) => /^5\d\d$/.test(s)).reduce((n, [, k]) => n + k, 0);
const invalidValid = [...byKind]
  .filter(([k]) => k.startsWith('valid'))
  .flatMap(([, t]) => [...t])
  .filter(([s]) => !/^2\d\d$/.test(s))
  .reduce((n, [, k]) => n + k, 0);
for (const message of notes) console.log(`  shape: ${message}`);
for (const failure of failures) console.log(`  ! ${failure}`);
if (fiveXx || transportErrors || invalidValid || !healthy) {
  console.log(
    `soak: FAILED (${fiveXx} 5xx, ${transportErrors} transport errors, ${invalidValid} valid requests not 2xx${healthy ? '' : ', unhealthy at the end'})`,
  );
  process.exit(1);
}
console.log('soak: passed (no 5xx, no transport error, every valid request 2xx, healthy at the end)');
