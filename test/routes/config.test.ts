import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../../src/config.js';

describe('configuration from the environment', () => {
  it('defaults when nothing is set', () => {
    expect(loadConfig({}, () => 2)).toEqual({
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'info',
      maxElements: 1_000_000,
      bodyLimit: 33_554_432,
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
      workers: 1,
      offload: { threshold: 100_000, threads: 1 },
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
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PORT="eighty" is not allowed');
  });
});
