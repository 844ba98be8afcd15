import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';

const key = 'secret-key-0123456789';

async function captureLogs(run: (app: Awaited<ReturnType<typeof buildApp>>) => Promise<void>) {
  const lines: string[] = [];
  const app = await buildApp(
    { ...defaultConfig, logLevel: 'trace', apiKeys: [key] },
    { logStream: { write: (line: string) => void lines.push(line) } },
  );
  await app.ready();
  try {
    await run(app);
  } finally {
    await app.close();
  }
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logs', () => {
  it('are JSON with the request id on every request line, and hold neither the key nor the body', async () => {
    // A number unlikely to appear anywhere else in a log line.
    const marker = 271828.1828459045;
    const logs = await captureLogs(async (app) => {
      for (const authorization of [`Bearer ${key}`, 'Bearer not-the-key-at-all-x'])
        await app.inject({
          method: 'POST',
          url: '/v1/activations/relu/forward',
          headers: { 'content-type': 'application/json', authorization, 'x-request-id': 'log-test-1' },
          payload: JSON.stringify({ z: [marker, 'not a number'] }),
        });
    });
    const requestLines = logs.filter((l) => 'req' in l || 'res' in l || 'problem' in l);
    expect(requestLines.length).toBeGreaterThanOrEqual(4);
    for (const line of requestLines) expect(line.requestId).toBe('log-test-1');
    const text = JSON.stringify(logs);
    expect(text).not.toContain(key);
    expect(text).not.toContain('not-the-key-at-all');
    expect(text).not.toContain('271828');
  });

  it('redact the authorization header wherever a log call includes the request headers', async () => {
    const logs = await captureLogs(async (app) => {
      app.log.info({ headers: { authorization: `Bearer ${key}`, 'user-agent': 'kept' } }, 'headers');
    });
    const [line] = logs.filter((l) => l.msg === 'headers');
    expect(line.headers).toEqual({ authorization: '[Redacted]', 'user-agent': 'kept' });
    expect(JSON.stringify(logs)).not.toContain(key);
  });
});
