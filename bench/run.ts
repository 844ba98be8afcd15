/**
 * npm run bench [-- --quick] [-- --http-only | --core-only | --only=echo,binary,network,offload,core]   (or BENCH_QUICK=1)
 *   [-- --seconds=S --rounds=R]   (each load's seconds and the rounds, for a short targeted run)
 *
 * 1. HTTP: the service and a bare Fastify echo (bench/servers/echo.ts: parses the same body, replies with the
 *    same shape and size, no math), each in its own process, driven by autocannon alternately (A B A B ...)
 *    with the same bodies; medians over rounds of requests/s, MB/s, p50/p99, and the ratio service/echo, for
 *    forward, derivative, the softmax Jacobian (K = 100) and the output layer (256 x 512 x 10). For forward and
 *    derivative at 16 and 100,000 numbers, the FastAPI + PyTorch peer (bench/peer) joins the alternation
 *    (A B C A B C) and the ratio service/peer is reported too; without the peer installed that column is
 *    skipped with a message.
 * 2. Binary tensors against JSON at 1e6 elements: server throughput, and end to end with the client's own
 *    encoding and decoding.
 * 2b. Network gradients (bench/network.ts): a 784-256-128-10 MLP at batch 64, JSON against binary tensors, and
 *     its Hessian-vector product (POST /v1/gradients/network/hessian-vector) against the gradient route.
 * 3. Offloading: a client streams 1e6-element requests while another sends 16-element ones (paced, 200/s);
 *    p50/p99/max of the small ones with the worker pool on and off.
 * 4. Core kernels against tfjs-backend-cpu and tfjs-backend-wasm (bench/core.ts).
 *
 * Writes bench/results/latest.json (quick runs: bench/results/quick.json.tmp, not tracked) and prints markdown tables.
 * --quick is a smoke run (small sizes, short rounds) that exercises every path in well under a minute.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { decodeReply, encodeRequest, tensorMediaType } from './binary-client.js';
import {
  derivativeCase,
  forwardCase,
  type HttpCase,
  jacobianCase,
  outputLayerCase,
  uniform,
} from './bodies.js';
import { coreBenchmarks } from './core.js';
import {
  alternate,
  cannon,
  connectionsFor,
  failuresCell,
  type Load,
  median,
  type Server,
  type Stats,
  type Summary,
  startServer,
} from './http.js';
import { networkBench } from './network.js';
import { peerUnavailable, peerVersions, startPeer } from './peer/peer.js';
import { markdown } from './report.js';

const argv = new Set(process.argv.slice(2));
const quick = argv.has('--quick') || process.env.BENCH_QUICK === '1';
const allSections = ['echo', 'binary', 'network', 'offload', 'core'] as const;
type Section = (typeof allSections)[number];
// --only=offload,core runs some sections and updates them in the existing results file.
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const sections = new Set<Section>(
  only
    ? (only as Section[])
    : argv.has('--core-only')
      ? ['core']
      : argv.has('--http-only')
        ? ['echo', 'binary', 'network', 'offload']
        : allSections,
);

// --seconds=S and --rounds=R override each load's duration and the rounds (a short targeted run on a shared
// machine: npm run bench -- --only=network --seconds=3 --rounds=2).
const override = (name: string) => {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return value === undefined ? undefined : Number(value);
};
const basePlan = quick
  ? { rounds: 1, warmup: 0.1, seconds: (_: number) => 0.4, large: 1000, offloadSeconds: 0.4, settle: 200 }
  : {
      rounds: 3,
      warmup: 1,
      seconds: (elements: number) => (elements <= 1000 ? 3 : elements <= 100_000 ? 4 : 8),
      large: 1_000_000,
      offloadSeconds: 6,
      settle: 1000,
    };
const seconds = override('seconds');
const plan = {
  ...basePlan,
  rounds: override('rounds') ?? basePlan.rounds,
  seconds: seconds === undefined ? basePlan.seconds : () => seconds,
};

const jsonHeaders = { 'content-type': 'application/json' };
const binaryHeaders = (c: HttpCase) => ({
  'content-type': tensorMediaType,
  accept: tensorMediaType,
  'inference-header-content-length': String(c.binary.headerLength),
});

function log(line: string) {
  process.stderr.write(`${line}\n`);
}

export interface HttpRow {
  readonly case: string;
  readonly elements: number;
  readonly service: Summary;
  readonly echo: Summary;
  /** service / echo requests per second. */
  readonly ratio: number;
  /** The FastAPI + PyTorch peer, in the same alternation, where it was measured. */
  readonly peer?: Summary;
  /** service / peer requests per second. */
  readonly peerRatio?: number;
  /** echo / service server CPU time per request: the service/echo ratio a core to itself would give. */
  readonly cpuRatio?: number;
}

/** The cases the peer mirrors and the issue sets targets for: forward and derivative at 16 and 100,000. */
const peerMeasures = (c: HttpCase) =>
  (c.op === 'forward' || c.op === 'derivative') && (c.elements === 16 || c.elements === 100_000 || quick);

async function serviceVsEcho(service: Server, echo: Server, peer: Server | undefined): Promise<HttpRow[]> {
  const cases: HttpCase[] = quick
    ? [forwardCase(16), forwardCase(1000), derivativeCase(16), jacobianCase(16), outputLayerCase(8, 16, 4)]
    : [
        forwardCase(16),
        forwardCase(100_000),
        forwardCase(1_000_000),
        derivativeCase(16),
        derivativeCase(100_000),
        derivativeCase(1_000_000),
        jacobianCase(16),
        jacobianCase(100_000),
        jacobianCase(1_000_000),
        outputLayerCase(256, 512, 10),
      ];
  const rows: HttpRow[] = [];
  for (const c of cases) {
    const base = { body: c.json, headers: jsonHeaders, connections: connectionsFor(c.elements) };
    const seconds = plan.seconds(Math.max(c.elements, c.replyElements));
    const loads = [
      { ...base, url: `${service.url}${c.path}`, seconds, pid: service.pid },
      { ...base, url: `${echo.url}/echo/${c.op}`, seconds, pid: echo.pid },
    ];
    if (peer && peerMeasures(c)) loads.push({ ...base, url: `${peer.url}${c.path}`, seconds, pid: peer.pid });
    const [s, e, p] = await alternate(loads, plan.rounds, plan.warmup);
    rows.push({
      case: c.id,
      elements: c.elements,
      service: s,
      echo: e,
      ratio: s.rps / e.rps,
      ...(p ? { peer: p, peerRatio: s.rps / p.rps } : {}),
      ...(s.cpuUsPerRequest && e.cpuUsPerRequest ? { cpuRatio: e.cpuUsPerRequest / s.cpuUsPerRequest } : {}),
    });
    log(
      `  ${c.id}: service ${s.rps.toFixed(1)} req/s, echo ${e.rps.toFixed(1)} req/s, ratio ${(s.rps / e.rps).toFixed(3)}` +
        (s.cpuUsPerRequest && e.cpuUsPerRequest
          ? ` (server CPU per request ${s.cpuUsPerRequest.toFixed(1)} / ${e.cpuUsPerRequest.toFixed(1)} us, ratio ${(e.cpuUsPerRequest / s.cpuUsPerRequest).toFixed(3)})`
          : '') +
        (p ? `; peer ${p.rps.toFixed(1)} req/s, service/peer ${(s.rps / p.rps).toFixed(2)}` : '') +
        `; failed: service ${failuresCell(s)}, echo ${failuresCell(e)}${p ? `, peer ${failuresCell(p)}` : ''}`,
    );
  }
  return rows;
}

export interface BinaryRow {
  readonly case: string;
  readonly elements: number;
  readonly json: Summary;
  readonly binary: Summary;
  /** End to end per request, client encoding and decoding included (ms, median). */
  readonly endToEndJsonMs: number;
  readonly endToEndBinaryMs: number;
  readonly speedup: number;
}

/** One request as a client does it: encode its Float64Array, send, read, decode to a Float64Array. */
async function clientRoundTrip(url: string, c: HttpCase, binary: boolean): Promise<number> {
  const z = uniform(c.elements, c.elements);
  const start = performance.now();
  if (binary) {
    const shape = c.elements > 1000 ? [c.elements / 1000, 1000] : [c.elements];
    const { body, headerLength } = encodeRequest({}, [{ name: 'z', data: z, shape }]);
    const res = await request(`${url}${c.path}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': tensorMediaType,
        accept: tensorMediaType,
        'inference-header-content-length': String(headerLength),
      },
    });
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    const reply = decodeReply(bytes, Number(res.headers['inference-header-content-length']));
    if (res.statusCode !== 200 || !reply.tensors.get('a'))
      throw new Error(`binary round trip: ${res.statusCode}`);
  } else {
    const rows: number[][] = [];
    for (let r = 0; r < c.elements / 1000; r++) rows.push(Array.from(z.subarray(r * 1000, (r + 1) * 1000)));
    const body = JSON.stringify({ z: c.elements > 1000 ? rows : Array.from(z) });
    const res = await request(`${url}${c.path}`, { method: 'POST', body, headers: jsonHeaders });
    const reply = JSON.parse(await res.body.text()) as { a: number[] | number[][] };
    const a = Float64Array.from((reply.a as number[][]).flat());
    if (res.statusCode !== 200 || a.length !== c.elements)
      throw new Error(`JSON round trip: ${res.statusCode}`);
  }
  return performance.now() - start;
}

async function binaryVsJson(service: Server): Promise<BinaryRow[]> {
  const rows: BinaryRow[] = [];
  for (const c of [forwardCase(plan.large), derivativeCase(plan.large)]) {
    const seconds = plan.seconds(c.elements);
    const url = `${service.url}${c.path}`;
    const [json, binary] = await alternate(
      [
        { url, body: c.json, headers: jsonHeaders, connections: 2, seconds },
        { url, body: c.binary.body, headers: binaryHeaders(c), connections: 2, seconds },
      ],
      plan.rounds,
      plan.warmup,
    );
    const jsonMs: number[] = [];
    const binaryMs: number[] = [];
    for (let r = 0; r < (quick ? 2 : 5); r++) {
      jsonMs.push(await clientRoundTrip(service.url, c, false));
      binaryMs.push(await clientRoundTrip(service.url, c, true));
    }
    const row = {
      case: c.id,
      elements: c.elements,
      json,
      binary,
      endToEndJsonMs: median(jsonMs),
      endToEndBinaryMs: median(binaryMs),
      speedup: median(jsonMs) / median(binaryMs),
    };
    rows.push(row);
    log(
      `  ${c.id}: JSON ${json.rps.toFixed(2)} req/s, binary ${binary.rps.toFixed(2)} req/s; end to end ` +
        `${row.endToEndJsonMs.toFixed(1)} ms vs ${row.endToEndBinaryMs.toFixed(1)} ms (x${row.speedup.toFixed(1)}); ` +
        `failed ${failuresCell(json, binary)}`,
    );
  }
  return rows;
}

/** Runs bench/load.ts in a child: a stream of large requests for `seconds`. */
function heavyStream(url: string, elements: number, seconds: number, binary: boolean): Promise<Stats> {
  const child = fork(
    fileURLToPath(new URL('./load.ts', import.meta.url)),
    [url, String(elements), String(seconds), binary ? '1' : '0'],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('message', (stats) => resolve(stats as Stats));
    child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
  });
}

export interface OffloadRow {
  readonly pool: 'on' | 'off';
  readonly large: 'json' | 'binary';
  /** 16-element requests alone. */
  readonly alone: Stats;
  /** 16-element requests while another client streams large ones. */
  readonly underLoad: Stats;
  /** The large stream's requests per second meanwhile. */
  readonly largeRps: number;
}

async function offload(servers: { on: Server; off: Server }): Promise<OffloadRow[]> {
  const small = forwardCase(16);
  const rows: OffloadRow[] = [];
  const seconds = plan.offloadSeconds;
  // Paced (200 req/s over 10 connections) rather than closed-loop: a single connection waiting behind a
  // blocked event loop sends nothing meanwhile, so the stall would touch one sample and hide under p99.
  const smallLoad = (url: string): Load => ({
    url: `${url}${small.path}`,
    body: small.json,
    headers: jsonHeaders,
    connections: 10,
    rate: 200,
    seconds,
  });
  for (let round = 0; round < (quick ? 1 : 2); round++)
    for (const large of quick ? (['binary'] as const) : (['json', 'binary'] as const))
      for (const pool of ['on', 'off'] as const) {
        const server = servers[pool];
        const alone = await cannon(smallLoad(server.url));
        // The stream starts first and outlasts the measurement, so every small request meets it.
        const stream = heavyStream(
          server.url,
          plan.large,
          seconds + (2 * plan.settle) / 1000,
          large === 'binary',
        );
        await new Promise((resolve) => setTimeout(resolve, plan.settle));
        const underLoad = await cannon(smallLoad(server.url));
        const heavy = await stream;
        rows.push({ pool, large, alone, underLoad, largeRps: heavy.rps });
        log(
          `  pool ${pool}, ${large} stream: 16-element p99 alone ${alone.p99} ms, under the stream ` +
            `${underLoad.p99} ms (p50 ${underLoad.p50} ms, max ${underLoad.max} ms); stream ${heavy.rps.toFixed(2)} req/s; ` +
            `failed: small ${failuresCell(alone, underLoad)}, stream ${failuresCell(heavy)}`,
        );
      }
  return rows;
}

const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadAverageAtStart: loadavg(),
};

const dir = fileURLToPath(new URL('./results/', import.meta.url));
// Smoke runs write beside, ignored by git (bench/results/*.tmp): their figures are not results.
const file = `${dir}${quick ? 'quick.json.tmp' : 'latest.json'}`;
const partial = sections.size < allSections.length && existsSync(file);
const results: Record<string, unknown> = partial ? JSON.parse(readFileSync(file, 'utf8')) : {};
Object.assign(results, { mode: quick ? 'quick' : 'full', startedAt: new Date().toISOString(), machine });

if (sections.has('echo') || sections.has('binary')) {
  const service = await startServer('service');
  try {
    if (sections.has('echo')) {
      log('HTTP: service vs echo (and vs the FastAPI + PyTorch peer)');
      const echo = await startServer('echo');
      const unavailable = peerUnavailable();
      if (unavailable) log(`  peer skipped: ${unavailable}`);
      const peer = unavailable ? undefined : await startPeer();
      results.peer = unavailable ? { skipped: unavailable } : { versions: peerVersions() };
      try {
        results.http = await serviceVsEcho(service, echo, peer);
      } finally {
        await Promise.all([echo.stop(), peer?.stop()]);
      }
    }
    if (sections.has('binary')) {
      log('Binary tensors vs JSON');
      results.binary = await binaryVsJson(service);
    }
  } finally {
    await service.stop();
  }
}
if (sections.has('network')) {
  log('Network gradients, JSON and binary (and the FastAPI + PyTorch peer on JSON)');
  const service = await startServer('service');
  const unavailable = peerUnavailable();
  if (unavailable) log(`  peer skipped: ${unavailable}`);
  const peer = unavailable ? undefined : await startPeer();
  try {
    results.network = await networkBench(
      service,
      { quick, ...plan, seconds: plan.seconds(quick ? 1000 : 1_000_000) },
      peer,
    );
  } finally {
    await Promise.all([service.stop(), peer?.stop()]);
  }
}
if (sections.has('offload')) {
  log('Offloading large requests');
  const quickThreshold: Record<string, string> = quick ? { OFFLOAD_THRESHOLD: '100' } : {};
  const on = await startServer('service', quickThreshold);
  const off = await startServer('service', { OFFLOAD_THRESHOLD: '0' });
  try {
    results.offload = await offload({ on, off });
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
}
if (sections.has('core')) {
  log('Core kernels vs tfjs');
  results.core = await coreBenchmarks({ quick });
}
(results.machine as Record<string, unknown>).loadAverageAtEnd = loadavg();
results.finishedAt = new Date().toISOString();

mkdirSync(dir, { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(markdown(results as never));
log(`wrote ${file}`);
