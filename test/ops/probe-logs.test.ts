import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { type AppConfig, defaultConfig } from '../../src/config.js';
import { probePaths } from '../../src/request-logging.js';

const levels = { debug: 20, info: 30 };

async function logsOf(logLevel: AppConfig['logLevel'], urls: readonly string[]) {
  const lines: { level: number; msg: string; req?: { url: string }; res?: unknown }[] = [];
  const app = await buildApp(
    { ...defaultConfig, logLevel, maxEventLoopDelayMs: 0 },
    { logStream: { write: (line: string) => void lines.push(JSON.parse(line)) } },
  );
  await app.ready();
  const before = lines.length;
  try {
    for (const url of urls) expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
  } finally {
    await app.close();
  }
  // Only the lines the requests wrote (not the start-up or close lines).
  return lines.slice(before).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
}

const tenProbes = Array.from({ length: 10 }, (_, i) => ['/healthz', '/readyz', '/metrics'][i % 3]);

describe('probe logging', () => {
  it('ten probes add no info line', async () => {
    const lines = await logsOf('info', tenProbes);
    expect(lines.filter((l) => l.level >= levels.info)).toEqual([]);
  });

  it('every other request logs its two info lines as before', async () => {
    const lines = await logsOf('info', ['/v1/activations/sigmoid', '/healthz']);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [levels.info, 'incoming request'],
      [levels.info, 'request completed'],
    ]);
  });

  it('at LOG_LEVEL=debug the probes log both lines, at debug', async () => {
    const lines = await logsOf('debug', [...probePaths]);
    expect(lines).toHaveLength(2 * probePaths.size);
    expect(lines.every((l) => l.level === levels.debug)).toBe(true);
    expect(lines.filter((l) => l.msg === 'incoming request').map((l) => l.req?.url)).toEqual([...probePaths]);
  });
});
