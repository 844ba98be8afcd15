import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { openRaw, parseResponses } from '../support/raw-http.js';

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

describe('refusals', () => {
  it('are logged at warn with the problem and no stack', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = await buildApp(
      { ...defaultConfig, logLevel: 'info', maxEventLoopDelayMs: 0, memoryBudgetBytes: 1000 },
      { logStream: { write: (line: string) => void lines.push(JSON.parse(line)) } },
    );
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const head = (length: number) =>
        `POST /v1/activations/relu/forward HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
      // One body holds the (tiny) memory budget while a second is refused from its head.
      const holder = await openRaw(port);
      holder.socket.write(`${head(100_000)}{"z":[`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await openRaw(port);
      refused.socket.write(head(100_000));
      for (let i = 0; i < 200 && parseResponses(refused.received()).length === 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(parseResponses(refused.received())[0]?.status).toBe(503);
      holder.socket.destroy();
      refused.socket.destroy();

      const refusal = lines.find((l) => l.problem === 'not-ready');
      expect(refusal).toMatchObject({ level: 40, msg: 'request refused' });
      expect(refusal?.detail).toMatch(/MEMORY_BUDGET_BYTES/);
      expect(JSON.stringify(refusal)).not.toMatch(/"err"|"stack"/);
      expect(lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
