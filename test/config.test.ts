/** src/config.ts: the environment read into a typed config, every bad value reported at start. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../src/config.js';
import { detectResources, type ResourceProbe, reservedMemoryBytes } from '../src/resources.js';

describe('configuration from the environment', () => {
  it('defaults when nothing is set', () => {
    expect(loadConfig({}, () => 2)).toEqual({
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'info',
      maxElements: 1_000_000,
      bodyLimit: 33_554_432,
      shutdownDelayMs: 5_000,
      shutdownTimeoutMs: 20_000,
      maxEventLoopDelayMs: 1000,
      maxHeapUsedBytes: 0,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      connectionTimeoutMs: 120_000,
      apiKeys: [],
      metricsAuth: false,
      rateLimit: 0,
      trustProxy: false,
      workers: 1,
      resources: { cores: 2, memoryBytes: 0, memoryLimited: false, source: { cpu: 'given', memory: 'none' } },
      memoryBudgetBytes: 0,
      offload: {
        threshold: 100_000,
        threads: 1,
        maxQueue: 32,
        maxQueueBytes: 4 * 33_554_432,
        timeoutMs: 30_000,
      },
    });
    expect(loadConfig({})).toEqual(defaultConfig);
  });

  it('reads good values', () => {
    expect(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'DEBUG', MAX_ELEMENTS: '5', BODY_LIMIT: '1024' }),
    ).toEqual({
      ...defaultConfig,
      port: 0,
      host: '127.0.0.1',
      logLevel: 'debug',
      maxElements: 5,
      bodyLimit: 1024,
      // Waiting pool tasks may hold 4 bodies of the limit per thread.
      offload: { ...defaultConfig.offload, maxQueueBytes: 4 * defaultConfig.offload.threads * 1024 },
    });
    expect(loadConfig({ PORT: '65535', HOST: '::' }).port).toBe(65535);
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', '80a', /integer from 0 to 65535/],
    ['PORT', '65536', /integer from 0 to 65535/],
    ['PORT', '', /integer/],
    ['PORT', '1.5e0', /integer/],
    ['MAX_ELEMENTS', '1e400', /integer from 1/],
    ['MAX_ELEMENTS', '0x10', /integer from 1/],
    ['MAX_ELEMENTS', '0', /integer from 1/],
    ['MAX_ELEMENTS', '-5', /integer from 1/],
    ['BODY_LIMIT', '32MiB', /integer from 1/],
    ['LOG_LEVEL', 'verbose', /one of fatal, error, warn, info, debug, trace, silent/],
    ['HOST', '', /host name or IP/],
    ['HOST', 'local host', /host name or IP/],
  ];
  for (const [name, value, allowed] of bad) {
    it(`rejects ${name}=${JSON.stringify(value)}, naming the variable, the value and what is allowed`, () => {
      let error: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(name);
      expect(message).toContain(JSON.stringify(value));
      expect(message).toMatch(allowed);
    });
  }

  it('reports every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT[\s\S]*LOG_LEVEL/);
  });
});

describe('server.ts', () => {
  it('a bad config prints a clear message and exits 1 without listening', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PORT="eighty" is not allowed');
  });
});

const key1 = 'k1-0123456789abcdef';
const key2 = 'k2-fedcba9876543210';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('operational configuration', () => {
  it('reads good values of every operational variable', () => {
    expect(
      loadConfig({
        SHUTDOWN_DELAY_MS: '0',
        SHUTDOWN_TIMEOUT_MS: '5000',
        MAX_EVENT_LOOP_DELAY_MS: '0',
        MAX_HEAP_USED_BYTES: '400000000',
        REQUEST_TIMEOUT_MS: '2000',
        HEADERS_TIMEOUT_MS: '1500',
        KEEP_ALIVE_TIMEOUT_MS: '65000',
        CONNECTION_TIMEOUT_MS: '0',
        API_KEYS: ` ${key1},${key2} `,
        METRICS_AUTH: 'TRUE',
        RATE_LIMIT: '600',
        WORKERS: '3',
      }),
    ).toEqual({
      ...defaultConfig,
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 5000,
      maxEventLoopDelayMs: 0,
      maxHeapUsedBytes: 400_000_000,
      requestTimeoutMs: 2000,
      headersTimeoutMs: 1500,
      keepAliveTimeoutMs: 65_000,
      connectionTimeoutMs: 0,
      apiKeys: [key1, key2],
      metricsAuth: true,
      rateLimit: 600,
      workers: 3,
    });
  });

  it('reads the worker-pool settings with the rest', () => {
    expect(loadConfig({ OFFLOAD_THRESHOLD: '0', OFFLOAD_THREADS: '3' }).offload).toEqual({
      threshold: 0,
      threads: 3,
      maxQueue: 96,
      maxQueueBytes: 3 * 4 * 33_554_432,
      timeoutMs: 30_000,
    });
    expect(loadConfig({ OFFLOAD_MAX_QUEUE_BYTES: '1e6', BODY_LIMIT: '100' }).offload.maxQueueBytes).toBe(1e6);
    expect(() => loadConfig({ OFFLOAD_MAX_QUEUE_BYTES: '-5' })).toThrow(
      /OFFLOAD_MAX_QUEUE_BYTES="-5" is not allowed/,
    );
    expect(loadConfig({}, () => 4).offload.threads).toBe(3);
    expect(loadConfig({ OFFLOAD_MAX_QUEUE: '0', OFFLOAD_TIMEOUT_MS: '2500' }, () => 4).offload).toMatchObject(
      { maxQueue: 0, timeoutMs: 2500 },
    );
    expect(() => loadConfig({ OFFLOAD_TIMEOUT_MS: '0' })).toThrow(/OFFLOAD_TIMEOUT_MS="0" is not allowed/);
    expect(() => loadConfig({ OFFLOAD_MAX_QUEUE: '-1' })).toThrow(/OFFLOAD_MAX_QUEUE="-1" is not allowed/);
  });

  it('WORKERS=auto is the available parallelism', () => {
    expect(loadConfig({ WORKERS: 'auto' }, () => 6).workers).toBe(6);
  });

  it('API_KEYS unset means no authentication; set but empty (or blank) stops the start', () => {
    expect(loadConfig({}).apiKeys).toEqual([]);
    for (const empty of ['', '  '])
      expect(configError({ API_KEYS: empty })).toMatch(
        /API_KEYS is set but empty.*authentication off.*unset API_KEYS to run without authentication/,
      );
  });

  it('integers may be written in exponent form (MAX_ELEMENTS=1e6), whole numbers only', () => {
    const config = loadConfig({ MAX_ELEMENTS: '1e6', BODY_LIMIT: '3.2E7', OFFLOAD_THRESHOLD: '1e+5' });
    expect(config.maxElements).toBe(1_000_000);
    expect(config.bodyLimit).toBe(32_000_000);
    expect(config.offload.threshold).toBe(100_000);
    expect(configError({ MAX_ELEMENTS: '2.5e0' })).toMatch(/MAX_ELEMENTS="2.5e0".*integer from 1/);
    expect(configError({ MAX_ELEMENTS: '1e16' })).toMatch(/MAX_ELEMENTS="1e16".*integer from 1/);
  });

  it('the headers timeout follows a request timeout set below its default', () => {
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '4000' }).headersTimeoutMs).toBe(4000);
  });

  const bad: [string, string, RegExp][] = [
    ['SHUTDOWN_TIMEOUT_MS', '0', /integer from 1 to 2147483647/],
    ['SHUTDOWN_TIMEOUT_MS', '10s', /integer/],
    ['MAX_EVENT_LOOP_DELAY_MS', '-1', /integer from 0/],
    ['MAX_HEAP_USED_BYTES', '1GiB', /integer from 0/],
    ['REQUEST_TIMEOUT_MS', '0', /integer from 1/],
    ['HEADERS_TIMEOUT_MS', '2147483648', /integer from 1 to 2147483647/],
    ['KEEP_ALIVE_TIMEOUT_MS', 'forever', /integer from 1/],
    ['CONNECTION_TIMEOUT_MS', '1.5', /integer from 0/],
    ['RATE_LIMIT', '100/min', /integer from 0/],
    ['WORKERS', '0', /auto \(one process per CPU\) or an integer from 1 to 1024/],
    ['WORKERS', 'lots', /auto \(one process per CPU\) or an integer from 1 to 1024/],
    ['METRICS_AUTH', 'yes', /true or false/],
    ['OFFLOAD_THRESHOLD', '1e-5', /integer from 0/],
    ['OFFLOAD_THREADS', '0', /integer from 1 to 256/],
  ];
  for (const [name, value, allowed] of bad) {
    it(`rejects ${name}=${JSON.stringify(value)}, naming the variable, the value and what is allowed`, () => {
      const message = configError({ [name]: value });
      expect(message).toContain(`${name}=${JSON.stringify(value)}`);
      expect(message).toMatch(allowed);
    });
  }

  it('rejects a headers timeout above the request timeout (node would throw at listen)', () => {
    expect(configError({ REQUEST_TIMEOUT_MS: '1000', HEADERS_TIMEOUT_MS: '2000' })).toMatch(
      /HEADERS_TIMEOUT_MS="2000".*at most REQUEST_TIMEOUT_MS \(1000\)/,
    );
  });

  it('rejects short, spaced or empty API keys by position without printing any key', () => {
    const message = configError({ API_KEYS: `${key1},short-key,,has space in it ok` });
    expect(message).toMatch(/API_KEYS.*entries 2, 3, 4/);
    expect(message).toContain('at least 16');
    for (const secret of [key1, 'short-key', 'has space']) expect(message).not.toContain(secret);
  });

  it('rejects a repeated API key without printing it', () => {
    const message = configError({ API_KEYS: `${key1},${key1}` });
    expect(message).toMatch(/API_KEYS.*repeated/);
    expect(message).not.toContain(key1);
  });
});

describe('sizes from the container limits (src/resources.ts), with a fake cgroup tree', () => {
  const gib = 2 ** 30;
  const mib = 2 ** 20;
  /** A fake 64-core, 256 GiB node; `files` is the cgroup tree under a temporary root. */
  function node(files: Record<string, string>, selfCgroup = '0::/\n'): ResourceProbe {
    const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return {
      cgroupRoot: root,
      selfCgroup: () => selfCgroup,
      availableParallelism: () => 64,
      constrainedMemory: () => 2 ** 64,
      totalMemory: () => 256 * gib,
    };
  }

  it('a 1-CPU, 512 MiB limit (cgroup v2) on a 64-core node: 1 thread, a budget, a thread heap limit', () => {
    const probe = node({ 'cpu.max': '100000 100000\n', 'memory.max': `${512 * mib}\n` });
    const config = loadConfig({}, () => detectResources(probe));
    expect(config.resources).toMatchObject({ cores: 1, memoryBytes: 512 * mib, memoryLimited: true });
    expect(config.workers).toBe(1);
    expect(config.offload.threads).toBe(1);
    expect(config.offload.maxQueue).toBe(32);
    // 512 MiB less the reserve (160 MiB): 88 MiB of bodies at 4 bytes of memory per body byte.
    expect(config.memoryBudgetBytes).toBe(512 * mib - reservedMemoryBytes);
    expect(config.offload.heapLimitMb).toBe(128);
    // What the defaults were without the limit: 63 threads, no budget, V8's own thread heap.
    const unlimited = loadConfig({}, () =>
      detectResources(node({ 'cpu.max': 'max 100000\n', 'memory.max': 'max\n' })),
    );
    expect(unlimited.offload.threads).toBe(63);
    expect(unlimited.memoryBudgetBytes).toBe(0);
    expect(unlimited.offload.heapLimitMb).toBeUndefined();
  });

  it('cgroup v1 (CFS quota, memory.limit_in_bytes), found through /proc/self/cgroup: 1.5 CPUs is 2 cores', () => {
    const probe = node(
      {
        'cpu,cpuacct/pod/cpu.cfs_quota_us': '150000\n',
        'cpu,cpuacct/pod/cpu.cfs_period_us': '100000\n',
        'memory/pod/memory.limit_in_bytes': `${gib}\n`,
      },
      '5:cpu,cpuacct:/pod\n4:memory:/pod\n0::/\n',
    );
    const resources = detectResources(probe);
    expect(resources).toMatchObject({ cores: 2, memoryBytes: gib, memoryLimited: true });
    expect(loadConfig({}, () => resources).offload.threads).toBe(1);
  });

  it('process.constrainedMemory() when lower than the cgroup file; availableParallelism() without a quota', () => {
    const probe = { ...node({ 'memory.max': `${gib}\n` }), constrainedMemory: () => 512 * mib };
    expect(detectResources(probe)).toMatchObject({ cores: 64, memoryBytes: 512 * mib, memoryLimited: true });
  });

  it('WORKERS=auto divides the cores and the memory among the processes', () => {
    const probe = node({ 'cpu.max': '800000 100000\n', 'memory.max': `${4 * gib}\n` });
    const config = loadConfig({ WORKERS: 'auto' }, () => detectResources(probe));
    expect(config.workers).toBe(8);
    expect(config.offload.threads).toBe(1);
    expect(config.memoryBudgetBytes).toBe(Math.floor((4 * gib - 8 * reservedMemoryBytes) / 8));
    const two = loadConfig({ WORKERS: '2' }, () => detectResources(probe));
    expect(two.offload.threads).toBe(3);
    expect(two.memoryBudgetBytes).toBe(Math.floor((4 * gib - 2 * reservedMemoryBytes) / 2));
  });

  it('MEMORY_BUDGET_BYTES overrides the default, 0 turns it off, and a bad value is reported', () => {
    const probe = node({ 'memory.max': `${512 * mib}\n` });
    expect(loadConfig({ MEMORY_BUDGET_BYTES: '0' }, () => detectResources(probe)).memoryBudgetBytes).toBe(0);
    expect(loadConfig({ MEMORY_BUDGET_BYTES: '1e8' }, () => detectResources(probe)).memoryBudgetBytes).toBe(
      1e8,
    );
    expect(() => loadConfig({ MEMORY_BUDGET_BYTES: '-1' }, () => detectResources(probe))).toThrow(
      /MEMORY_BUDGET_BYTES="-1" is not allowed/,
    );
  });
});

describe('TRUST_PROXY', () => {
  it('reads true, false, a hop count, and addresses or CIDR ranges; refuses anything else', () => {
    expect(loadConfig({}, () => 2).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'TRUE' }, () => 2).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }, () => 2).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, ::1' }, () => 2).trustProxy).toEqual(['10.0.0.0/8', '::1']);
    expect(() => loadConfig({ TRUST_PROXY: 'loopback-ish' }, () => 2)).toThrow(
      /TRUST_PROXY="loopback-ish" is not allowed/,
    );
  });
});
