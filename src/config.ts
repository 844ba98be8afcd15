/**
 * Environment -> typed, validated configuration. Every variable is checked at start so that a typo
 * (PORT=80a, LOG_LEVEL=verbose) stops the process with a message instead of misbehaving later.
 */
import { defaultMemoryBudget, defaultThreadHeapMb, detectResources, type Resources } from './resources.js';
import {
  defaultMaxQueueBytes,
  defaultOffloadConfig,
  type OffloadConfig,
  queuePerThread,
} from './workers/config.js';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  /** Most numbers allowed in any one request or response tensor (413 beyond). */
  readonly maxElements: number;
  /** Most bytes allowed in a request body (413 beyond). */
  readonly bodyLimit: number;
  /**
   * After SIGTERM/SIGINT, how long the listener stays open with readiness 503, so that balancers notice and
   * stop sending before connections are refused; 0 under Kubernetes, whose preStop sleep does the same.
   */
  readonly shutdownDelayMs: number;
  /** After that delay, how long in-flight requests may take before the process exits anyway (code 1). */
  readonly shutdownTimeoutMs: number;
  /** Shed load (503) while the event loop's mean delay exceeds this; 0 = off. */
  readonly maxEventLoopDelayMs: number;
  /** Shed load (503) while the V8 heap in use exceeds this; 0 = off. */
  readonly maxHeapUsedBytes: number;
  /** Most time to receive a whole request, headers and body (node's requestTimeout); 408 beyond. */
  readonly requestTimeoutMs: number;
  /** Most time to receive the request headers (node's headersTimeout): the slowloris bound. */
  readonly headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** A socket with no traffic in either direction for this long is destroyed (0 = no limit). */
  readonly connectionTimeoutMs: number;
  /** Bearer keys accepted on /v1 and /v2; empty = no authentication (API_KEYS unset; set but empty is refused). */
  readonly apiKeys: readonly string[];
  /** Whether /metrics needs a key too (only when apiKeys is not empty). */
  readonly metricsAuth: boolean;
  /** Requests per minute per client IP (per API key when keys are set); 0 = no limit. */
  readonly rateLimit: number;
  /**
   * Which proxies' X-Forwarded-For to believe for the client's address (Fastify's trustProxy): false (none,
   * the default), true (any), a hop count, or addresses and CIDR ranges. The address is what RATE_LIMIT
   * counts per client (without keys) and what the logs show; behind a balancer without it, every client is
   * the balancer.
   */
  readonly trustProxy: boolean | number | readonly string[];
  /** Processes serving the port (node:cluster); 1 = no cluster. */
  readonly workers: number;
  /** The cores and memory the container allows (src/resources.ts), from which the defaults below follow. */
  readonly resources: Resources;
  /**
   * Memory one process may give to request bodies being read and served (MEMORY_BUDGET_BYTES), each counted
   * memoryPerBodyByte times its size, admitted before the body is read (plugins/memory-budget.ts); 0 = off.
   */
  readonly memoryBudgetBytes: number;
  /** When large requests go to the worker-thread pool (OFFLOAD_THRESHOLD), its size (OFFLOAD_THREADS), queue
   * bounds (OFFLOAD_MAX_QUEUE tasks, OFFLOAD_MAX_QUEUE_BYTES of their inputs) and task timeout
   * (OFFLOAD_TIMEOUT_MS). */
  readonly offload: OffloadConfig;
}

/** This machine's (or container's) cores and memory, read once. */
const machine = detectResources();

/** The worker threads' heap limit, where the container has a memory limit. */
const threadHeap = (resources: Resources): { heapLimitMb?: number } => {
  const heapLimitMb = defaultThreadHeapMb(resources);
  return heapLimitMb === undefined ? {} : { heapLimitMb };
};

export const defaultConfig: AppConfig = {
  port: 8080,
  host: '0.0.0.0',
  logLevel: 'info',
  maxElements: 1_000_000,
  bodyLimit: 33_554_432,
  // Two failed checks of a balancer checking every 2 s (HAProxy's default inter), with margin.
  shutdownDelayMs: 5_000,
  // Kubernetes' terminationGracePeriodSeconds (30) minus the preStop sleep (5), with margin.
  shutdownTimeoutMs: 20_000,
  maxEventLoopDelayMs: 1000,
  maxHeapUsedBytes: 0,
  // A 32 MiB body at a slow 2 MB/s still arrives; a client trickling bytes does not hold a socket longer.
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  // Above the idle timeouts of common load balancers (60 s), so that they close first, never us mid-reuse.
  keepAliveTimeoutMs: 72_000,
  connectionTimeoutMs: 120_000,
  apiKeys: [],
  metricsAuth: false,
  rateLimit: 0,
  trustProxy: false,
  workers: 1,
  resources: machine,
  memoryBudgetBytes: defaultMemoryBudget(machine, 1),
  offload: { ...defaultOffloadConfig(machine.cores), ...threadHeap(machine) },
};

/** Shortest API key accepted: a guessable key is no authentication. */
export const minApiKeyLength = 16;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Decimal digits, or an integer in exponent form (MAX_ELEMENTS=1e6, 2.5e3): Number() alone would also take
 * '' (0), '0x10' (16) and ' ' (0). Whether the value is a whole number in range is checked after.
 */
const integerPattern = /^(\d+|\d+(\.\d+)?[eE]\+?\d+)$/;

/**
 * Reads the configuration from env; throws ConfigError listing every bad variable. `machine` gives the
 * container's cores and memory (tests inject a fake one; a plain number is cores without a memory limit).
 */
export function loadConfig(
  env: Env = process.env,
  machine: () => Resources | number = detectResources,
): AppConfig {
  const measured = machine();
  const resources: Resources =
    typeof measured === 'number'
      ? { cores: measured, memoryBytes: 0, memoryLimited: false, source: { cpu: 'given', memory: 'none' } }
      : measured;
  const problems: string[] = [];
  /** `orElse` names what else the variable takes, for the message (WORKERS=auto). */
  const integer = (name: string, fallback: number, min: number, max: number, orElse = ''): number => {
    const raw = env[name];
    if (raw === undefined) return fallback;
    const value = integerPattern.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
    problems.push(
      `${name}=${JSON.stringify(raw)} is not allowed: expected ${orElse}an integer from ${min} to ${max}` +
        ' (digits, or exponent form such as 1e6)',
    );
    return fallback;
  };

  const port = integer('PORT', defaultConfig.port, 0, 65535);
  const maxElements = integer('MAX_ELEMENTS', defaultConfig.maxElements, 1, Number.MAX_SAFE_INTEGER);
  const bodyLimit = integer('BODY_LIMIT', defaultConfig.bodyLimit, 1, Number.MAX_SAFE_INTEGER);
  // 2^31 - 1 ms: node's timers overflow beyond it.
  const maxMs = 2_147_483_647;
  const shutdownDelayMs = integer('SHUTDOWN_DELAY_MS', defaultConfig.shutdownDelayMs, 0, maxMs);
  const shutdownTimeoutMs = integer('SHUTDOWN_TIMEOUT_MS', defaultConfig.shutdownTimeoutMs, 1, maxMs);
  const maxEventLoopDelayMs = integer('MAX_EVENT_LOOP_DELAY_MS', defaultConfig.maxEventLoopDelayMs, 0, maxMs);
  const maxHeapUsedBytes = integer(
    'MAX_HEAP_USED_BYTES',
    defaultConfig.maxHeapUsedBytes,
    0,
    Number.MAX_SAFE_INTEGER,
  );
  // A zero request or headers timeout would let one slow client hold a socket forever: at least 1 ms.
  const requestTimeoutMs = integer('REQUEST_TIMEOUT_MS', defaultConfig.requestTimeoutMs, 1, maxMs);
  // Node refuses headersTimeout > requestTimeout; the default follows a smaller REQUEST_TIMEOUT_MS.
  const headersTimeoutMs = integer(
    'HEADERS_TIMEOUT_MS',
    Math.min(defaultConfig.headersTimeoutMs, requestTimeoutMs),
    1,
    maxMs,
  );
  if (headersTimeoutMs > requestTimeoutMs)
    problems.push(
      `HEADERS_TIMEOUT_MS=${JSON.stringify(env.HEADERS_TIMEOUT_MS)} is not allowed: expected at most REQUEST_TIMEOUT_MS (${requestTimeoutMs}), since the headers are part of the request`,
    );
  const keepAliveTimeoutMs = integer('KEEP_ALIVE_TIMEOUT_MS', defaultConfig.keepAliveTimeoutMs, 1, maxMs);
  const connectionTimeoutMs = integer('CONNECTION_TIMEOUT_MS', defaultConfig.connectionTimeoutMs, 0, maxMs);
  const rateLimit = integer('RATE_LIMIT', defaultConfig.rateLimit, 0, Number.MAX_SAFE_INTEGER);

  let workers = defaultConfig.workers;
  if (env.WORKERS !== undefined) {
    if (env.WORKERS.trim().toLowerCase() === 'auto') workers = resources.cores;
    else workers = integer('WORKERS', defaultConfig.workers, 1, 1024, 'auto (one process per CPU) or ');
  }

  // The cores are shared among the processes: each gets its event loop and its share of threads.
  const offloadDefaults = defaultOffloadConfig(Math.max(1, Math.floor(resources.cores / workers)));
  const offloadThreads = integer('OFFLOAD_THREADS', offloadDefaults.threads, 1, 256);
  const memoryBudgetBytes = integer(
    'MEMORY_BUDGET_BYTES',
    defaultMemoryBudget(resources, workers),
    0,
    Number.MAX_SAFE_INTEGER,
  );

  const offload: OffloadConfig = {
    threshold: integer('OFFLOAD_THRESHOLD', offloadDefaults.threshold, 0, Number.MAX_SAFE_INTEGER),
    threads: offloadThreads,
    // The default follows the threads actually configured.
    maxQueue: integer('OFFLOAD_MAX_QUEUE', queuePerThread * offloadThreads, 0, 1_000_000),
    maxQueueBytes: integer(
      'OFFLOAD_MAX_QUEUE_BYTES',
      defaultMaxQueueBytes(offloadThreads, bodyLimit),
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    timeoutMs: integer('OFFLOAD_TIMEOUT_MS', offloadDefaults.timeoutMs, 1, maxMs),
    ...threadHeap(resources),
  };

  let metricsAuth = defaultConfig.metricsAuth;
  if (env.METRICS_AUTH !== undefined) {
    const candidate = env.METRICS_AUTH.trim().toLowerCase();
    if (candidate === 'true' || candidate === 'false') metricsAuth = candidate === 'true';
    else
      problems.push(
        `METRICS_AUTH=${JSON.stringify(env.METRICS_AUTH)} is not allowed: expected true or false`,
      );
  }

  // The keys are secrets: messages name the entry by position, never by value.
  let apiKeys: string[] = [];
  // Set but empty is most often a secret that did not arrive (an unset variable in a compose file, a missing
  // Kubernetes secret key): starting without authentication would fail open, so it stops the start instead.
  if (env.API_KEYS !== undefined && env.API_KEYS.trim() === '')
    problems.push(
      'API_KEYS is set but empty, which would turn authentication off: give at least one key, or unset ' +
        'API_KEYS to run without authentication',
    );
  else if (env.API_KEYS !== undefined) {
    const entries = env.API_KEYS.split(',').map((key) => key.trim());
    const bad = entries
      .map((key, i) => ({ key, i }))
      .filter(({ key }) => key.length < minApiKeyLength || !/^[\x21-\x7e]+$/.test(key));
    if (bad.length)
      problems.push(
        `API_KEYS is not allowed: entries ${bad.map(({ i }) => i + 1).join(', ')} (counting from 1; values not shown) ` +
          `must be at least ${minApiKeyLength} printable ASCII characters without spaces, separated by commas`,
      );
    else if (new Set(entries).size !== entries.length)
      problems.push('API_KEYS is not allowed: an entry is repeated (values not shown)');
    else apiKeys = entries;
  }

  let trustProxy = defaultConfig.trustProxy;
  if (env.TRUST_PROXY !== undefined) {
    const raw = env.TRUST_PROXY.trim();
    const entries = raw.split(',').map((e) => e.trim());
    if (raw.toLowerCase() === 'true' || raw.toLowerCase() === 'false')
      trustProxy = raw.toLowerCase() === 'true';
    else if (/^\d+$/.test(raw) && Number(raw) <= 64) trustProxy = Number(raw);
    else if (entries.every((e) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(e) && /[.:]/.test(e)))
      trustProxy = entries;
    else
      problems.push(
        `TRUST_PROXY=${JSON.stringify(env.TRUST_PROXY)} is not allowed: expected true, false, a hop count from 0 to 64, or IP addresses and CIDR ranges separated by commas`,
      );
  }

  let host = defaultConfig.host;
  if (env.HOST !== undefined) {
    if (/^[^\s/]+$/.test(env.HOST)) host = env.HOST;
    else
      problems.push(
        `HOST=${JSON.stringify(env.HOST)} is not allowed: expected a host name or IP address (non-empty, no spaces or slashes)`,
      );
  }

  let logLevel = defaultConfig.logLevel;
  if (env.LOG_LEVEL !== undefined) {
    const candidate = env.LOG_LEVEL.trim().toLowerCase();
    if ((logLevels as readonly string[]).includes(candidate)) logLevel = candidate as LogLevel;
    else
      problems.push(
        `LOG_LEVEL=${JSON.stringify(env.LOG_LEVEL)} is not allowed: expected one of ${logLevels.join(', ')}`,
      );
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    port,
    host,
    logLevel,
    maxElements,
    bodyLimit,
    shutdownDelayMs,
    shutdownTimeoutMs,
    maxEventLoopDelayMs,
    maxHeapUsedBytes,
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs,
    connectionTimeoutMs,
    apiKeys,
    metricsAuth,
    rateLimit,
    trustProxy,
    workers,
    resources,
    memoryBudgetBytes,
    offload,
  };
}
