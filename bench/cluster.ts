/**
 * Requests/s of the real server (src/server.ts) with WORKERS=2 against WORKERS=1, on 127.0.0.1 only.
 * Rounds alternate 1 and 2 workers (1 2 1 2 ...) so that drift on a shared machine hits both alike; each
 * round starts a fresh server on a free port, warms it up, runs autocannon for a bounded time, and stops it
 * with SIGTERM. Prints the medians and their ratio. autocannon runs in this process, on the same cores.
 *
 *   npx tsx bench/cluster.ts [--rounds 3] [--seconds 8] [--elements 1000] [--connections 16]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CannonResult {
  requests: { total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latency: { p50: number; p99: number };
}
type Autocannon = (options: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
  pipelining: number;
  timeout: number;
}) => Promise<CannonResult>;
// autocannon ships no types; only this call shape is used.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    elements: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '16' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const elements = Number(values.elements);
const connections = Number(values.connections);

const root = fileURLToPath(new URL('..', import.meta.url));
const host = '127.0.0.1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts src/server.ts with `workers` and waits (at most 30 s) until /readyz answers 200. */
async function startServer(workers: number): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: host, WORKERS: String(workers), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://${host}:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server with ${workers} workers exited early`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server with ${workers} workers not ready within 30 s`);
    }
    await sleep(100);
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const body = JSON.stringify({ z: Array.from({ length: elements }, (_, i) => ((i % 200) - 100) / 10) });

async function measure(url: string, duration: number): Promise<CannonResult> {
  const result = await autocannon({
    url: `${url}/v1/activations/sigmoid/forward`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration,
    pipelining: 1,
    timeout: 30,
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0)
    throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  return result;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const rps: Record<1 | 2, number[]> = { 1: [], 2: [] };
console.log(
  `cluster bench: ${rounds} rounds x (1, 2 workers), ${seconds} s each, POST sigmoid/forward of ${elements} ` +
    `numbers, ${connections} connections, ${availableParallelism()} cores shared with autocannon`,
);
for (let round = 1; round <= rounds; round++) {
  for (const workers of [1, 2] as const) {
    const server = await startServer(workers);
    try {
      await measure(server.url, 2); // warm-up: JIT, pools, connections
      const result = await measure(server.url, seconds);
      const perSecond = result.requests.total / result.duration;
      rps[workers].push(perSecond);
      console.log(
        `round ${round} workers=${workers}: ${perSecond.toFixed(0)} req/s ` +
          `(p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms)`,
      );
    } finally {
      const code = await server.stop();
      if (code !== 0) console.log(`  (server exited with ${code})`);
    }
  }
}
const one = median(rps[1]);
const two = median(rps[2]);
console.log(
  `median req/s: 1 worker ${one.toFixed(0)}, 2 workers ${two.toFixed(0)}; ratio ${(two / one).toFixed(2)}`,
);
