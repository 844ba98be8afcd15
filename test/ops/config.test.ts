import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../../src/config.js';

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
    });
    expect(loadConfig({}, () => 4).offload.threads).toBe(3);
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
