/**
 * MEMORY_BUDGET_BYTES (plugins/memory-budget.ts): a body that would take the requests in flight past the
 * budget is refused with 503 and Retry-After from its head, before any of it is read; a chunked body is
 * counted as it arrives; a request is admitted whatever its size when nothing else is in flight; the memory
 * is released once the answer is written.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { memoryPerBodyByte } from '../../src/resources.js';
import { buildTestApp } from '../support/app.js';
import { openRaw, parseResponses, type RawConnection } from '../support/raw-http.js';

const apps: App[] = [];
afterAll(() => Promise.all(apps.map((app) => app.close())));

async function listening(budgetBytes: number): Promise<number> {
  const app = await buildTestApp({ memoryBudgetBytes: budgetBytes });
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

const head = (length: number) =>
  `POST /v1/activations/relu/forward HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** A relu request of exactly `length` bytes: {"z":[-1,2]} padded with spaces. */
const body = (length: number) => {
  const json = '{"z":[-1,2]}';
  return json + ' '.repeat(length - json.length);
};

async function answers(connection: RawConnection, count: number) {
  for (let i = 0; i < 200 && parseResponses(connection.received()).length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  return parseResponses(connection.received());
}

/** A connection whose request of `length` bytes has sent its head and 1000 bytes: it holds its charge. */
async function holding(port: number, length: number): Promise<RawConnection> {
  const holder = await openRaw(port);
  holder.socket.write(head(length) + body(length).slice(0, 1000));
  await new Promise((resolve) => setTimeout(resolve, 100));
  return holder;
}

describe('memory budget for request bodies', () => {
  const mb = 1_000_000;
  // Room for one 1 MB body (4 MB of memory) and a half-megabyte one, not for two 1 MB bodies.
  const budget = memoryPerBodyByte * 1.6 * mb;

  it('refuses from Content-Length alone, before reading the body, while another body holds the budget', async () => {
    const port = await listening(budget);
    const holder = await holding(port, mb);

    // Only the head is sent: the answer comes without a byte of the body.
    const refused = await openRaw(port);
    refused.socket.write(head(mb));
    const [answer] = await answers(refused, 1);
    expect(answer?.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    const problem = JSON.parse(answer.body);
    expect(problem.type).toBe('urn:gradient-service:problem:not-ready');
    expect(problem.detail).toContain('MEMORY_BUDGET_BYTES');
    refused.socket.destroy();

    // A smaller body still fits beside the one in flight.
    const small = await openRaw(port);
    small.socket.write(head(mb / 2) + body(mb / 2));
    expect((await answers(small, 1))[0]?.status).toBe(200);
    small.socket.destroy();

    // The holder finishes; its memory is released once its answer is written, and a 1 MB body fits again.
    holder.socket.write(body(mb).slice(1000));
    expect((await answers(holder, 1))[0]?.status).toBe(200);
    const after = await openRaw(port);
    after.socket.write(head(mb) + body(mb));
    const [ok] = await answers(after, 1);
    expect(ok?.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ a: [0, 2] });
    after.socket.destroy();
    holder.socket.destroy();
  });

  it('counts a chunked body as it arrives and refuses it past the budget', async () => {
    const port = await listening(budget);
    const holder = await holding(port, mb);

    const chunked = await openRaw(port);
    chunked.socket.write(
      'POST /v1/activations/relu/forward HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const piece = ' '.repeat(100_000);
    for (let i = 0; i < 12 && !chunked.socket.destroyed; i++)
      chunked.socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    const [answer] = await answers(chunked, 1);
    expect(answer?.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.body).detail).toContain('MEMORY_BUDGET_BYTES');
    chunked.socket.destroy();
    holder.socket.destroy();
  });

  it('admits a body larger than the budget when nothing else is in flight', async () => {
    const port = await listening(memoryPerBodyByte * 100_000);
    const alone = await openRaw(port);
    alone.socket.write(head(mb) + body(mb));
    expect((await answers(alone, 1))[0]?.status).toBe(200);
    alone.socket.destroy();
  });
});
