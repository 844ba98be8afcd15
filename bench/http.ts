/** Child servers and autocannon runs for the HTTP benchmarks. */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon, { type Result } from 'autocannon';

export interface Server {
  readonly url: string;
  /** The server's process, whose CPU time a load accounts per request. */
  readonly pid?: number;
  stop(): Promise<void>;
}

/** Forks bench/servers/<name>.ts under tsx and waits for its port. */
export function startServer(name: 'service' | 'echo', env: Record<string, string> = {}): Promise<Server> {
  const file = fileURLToPath(new URL(`./servers/${name}.ts`, import.meta.url));
  const child: ChildProcess = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code} before listening`)));
    child.once('message', (message: { port: number }) => {
      child.removeAllListeners('exit');
      resolve({
        url: `http://127.0.0.1:${message.port}`,
        pid: child.pid,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

export interface Load {
  readonly url: string;
  readonly body: string | Buffer;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly seconds: number;
  /** Paces the requests at this rate over all connections (default: as fast as replies come). */
  readonly rate?: number;
  /** The serving process: its CPU time (all threads) during the run is reported per request. */
  readonly pid?: number;
}

export interface Stats {
  /** Requests per second (completed, 2xx). */
  readonly rps: number;
  /** Reply megabytes per second. */
  readonly mbps: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly requests: number;
  /** Non-2xx replies and connection errors. */
  readonly failures: number;
  /**
   * What the failures were: replies by status code ("503": 12) and errors by code or message
   * ("ECONNRESET": 3, "request timed out": 1); empty when nothing failed.
   */
  readonly failed: Readonly<Record<string, number>>;
  /**
   * The server's CPU time (user + system, all its threads) per completed request, in microseconds, when the
   * load named its pid. On a machine shared with other work this moves far less than requests per second:
   * the client's and other processes' share of the cores does not enter it.
   */
  readonly cpuUsPerRequest?: number;
}

/** Adds b's counts to a's. */
export function addCounts(
  a: Record<string, number>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  for (const [key, n] of Object.entries(b)) a[key] = (a[key] ?? 0) + n;
  return a;
}

/** Failures as one short line: "503 x12, ECONNRESET x3", or '' when there were none. */
export const describeFailures = (failed: Readonly<Record<string, number>>): string =>
  Object.entries(failed)
    .map(([what, n]) => `${what} x${n}`)
    .join(', ');

/**
 * The failures of several measurements together, for a table cell or a log line: "0", or "24501 (503 x24501)".
 * Results written before failures were broken down have only the count.
 */
export function failuresCell(...stats: readonly (Pick<Stats, 'failures'> & { failed?: Stats['failed'] })[]) {
  const count = stats.reduce((n, s) => n + s.failures, 0);
  const failed = stats.reduce((all, s) => addCounts(all, s.failed ?? {}), {} as Record<string, number>);
  const what = describeFailures(failed);
  return what ? `${count} (${what})` : String(count);
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const ticksPerSecond = 100;

/** A process's user and system CPU time so far in microseconds (Linux /proc), or undefined elsewhere. */
export function cpuTimes(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const us = (ticks: string) => (Number(ticks) * 1e6) / ticksPerSecond;
    return { user: us(fields[11]), system: us(fields[12]) };
  } catch {
    return undefined;
  }
}

/** user + system of cpuTimes. */
function cpuTimeUs(pid: number | undefined): number | undefined {
  const times = cpuTimes(pid);
  return times && times.user + times.system;
}

/** Connections for a load of requests of this many numbers: fewer for large ones, which each take a core. */
export const connectionsFor = (elements: number) => (elements <= 1000 ? 8 : elements <= 100_000 ? 4 : 2);

export async function cannon(load: Load): Promise<Stats> {
  const errors: Record<string, number> = {};
  const cpuBefore = cpuTimeUs(load.pid);
  const result = await new Promise<Result>((resolve, reject) => {
    const run = autocannon(
      {
        url: load.url,
        method: 'POST',
        headers: load.headers,
        body: load.body,
        connections: load.connections,
        duration: load.seconds,
        pipelining: 1,
        ...(load.rate ? { overallRate: load.rate } : {}),
        // A 1e6-element JSON request takes most of a second: do not count it as a timeout.
        timeout: 60,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    run.on('reqError', (error) => {
      const what = error.code ?? error.message;
      errors[what] = (errors[what] ?? 0) + 1;
    });
  });
  // Failures are counted, not thrown: shedding load (503) under a stream of large requests is a result. What
  // they were is kept, so that a refusal (a 503, a 413) is never mistaken for a slow server.
  const failed: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats))
    if (count > 0 && !code.startsWith('2')) failed[code] = count;
  addCounts(failed, errors);
  const requests = result.requests.total - result.non2xx;
  const cpuAfter = cpuTimeUs(load.pid);
  return {
    rps: requests / result.duration,
    mbps: result.throughput.total / result.duration / 1e6,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests,
    failures: result.non2xx + result.errors,
    failed,
    ...(cpuBefore !== undefined && cpuAfter !== undefined && requests > 0
      ? { cpuUsPerRequest: (cpuAfter - cpuBefore) / requests }
      : {}),
  };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** (max - min) / median over the rounds: how noisy a figure was. */
export const spread = (xs: readonly number[]): number => {
  const m = median(xs);
  return m === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / m;
};

export interface Summary extends Stats {
  readonly rounds: readonly Stats[];
  /** Spread of rps over the rounds. */
  readonly noise: number;
}

export function summarize(rounds: readonly Stats[]): Summary {
  return {
    rps: median(rounds.map((r) => r.rps)),
    mbps: median(rounds.map((r) => r.mbps)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    max: Math.max(...rounds.map((r) => r.max)),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    failures: rounds.reduce((n, r) => n + r.failures, 0),
    failed: rounds.reduce((all, r) => addCounts(all, r.failed), {}),
    ...(rounds.every((r) => r.cpuUsPerRequest !== undefined)
      ? { cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest as number)) }
      : {}),
    rounds,
    noise: spread(rounds.map((r) => r.rps)),
  };
}

/** Runs the loads alternately A B A B ... for `rounds` rounds, after one short warm-up each. */
export async function alternate(loads: readonly Load[], rounds: number, warmup: number): Promise<Summary[]> {
  for (const load of loads) await cannon({ ...load, seconds: warmup });
  const results: Stats[][] = loads.map(() => []);
  for (let r = 0; r < rounds; r++)
    for (const [i, load] of loads.entries()) results[i].push(await cannon(load));
  return results.map(summarize);
}
