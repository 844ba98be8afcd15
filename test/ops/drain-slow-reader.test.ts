/**
 * Drain on the real process with answers still being written: a client reading a ~20 MB answer slowly over a
 * raw socket when SIGTERM lands gets every byte, and the process exits 0 after it (before the fix, the drain's
 * server.closeIdleConnections() destroyed the socket, whose response node counts as idle once end() is called,
 * though most of it was still unsent: the client got part of the answer and then a closed connection). Then the
 * delay between readiness turning 503 and the listener closing (SHUTDOWN_DELAY_MS), during which a balancer
 * still reaches the process, sees the 503, and any request it sends meanwhile is answered.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bounded, isListening, killChildren, listeningPort, startServer } from '../support/server-process.js';

afterEach(() => killChildren());

const timedOut = (line: Record<string, unknown>) =>
  String(line.msg).includes('did not finish within SHUTDOWN_TIMEOUT_MS');

/** One request over a raw socket; resolves with the socket once the first bytes of the answer arrived, then paused. */
function send(port: number, head: string, body = ''): Promise<{ socket: Socket; received: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.once('error', reject);
    socket.on('data', function first(chunk: Buffer) {
      received.push(chunk);
      socket.pause();
      socket.off('data', first);
      resolve({ socket, received });
    });
    socket.write(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

/** Reads the rest slowly (one read per timer tick) until the server closes; resolves with all the bytes. */
function readSlowly(socket: Socket, received: Buffer[]): Promise<{ bytes: Buffer; error?: string }> {
  return new Promise((resolve) => {
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => resolve({ bytes: Buffer.concat(received), error }));
    socket.resume();
  });
}

/** Splits a raw HTTP/1.1 answer with a Content-Length into its head and body. */
function parse(bytes: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: bytes.subarray(end + 4) };
}

describe('SIGTERM while a slow reader is receiving a large answer', () => {
  it('the reader gets the whole answer and the process exits 0 after it', async () => {
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '120000', SHUTDOWN_DELAY_MS: '0' });
    const port = listeningPort(await server.waitFor(isListening));
    // A 1000 x 1000 Jacobian: a 52-byte request whose answer is ~20 MB, far more than the socket buffers hold.
    const z = Array.from({ length: 1000 }, (_, i) => i / 100);
    const { socket, received } = await send(
      port,
      'POST /v1/softmax/jacobian HTTP/1.1\r\nhost: x\r\ncontent-type: application/json',
      JSON.stringify({ z }),
    );
    // The answer has begun, so node has its whole body (Fastify ends the response with it): most is unsent.
    server.child.kill('SIGTERM');
    await server.waitFor((l) => String(l.msg).startsWith('shutting down'));
    // The drain runs while the client reads nothing; the answer must still be there when it reads.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { bytes, error } = await bounded(readSlowly(socket, received), 60_000, 'the slow read');

    const answer = parse(bytes);
    expect(error).toBeUndefined();
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBeGreaterThan(15_000_000);
    expect(answer.body.length).toBe(Number(answer.headers['content-length']));
    const { jacobian } = JSON.parse(answer.body.toString('utf8')) as { jacobian: number[][] };
    expect(jacobian).toHaveLength(1000);
    expect(jacobian[999]).toHaveLength(1000);
    expect(await bounded(server.exited, 30_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(server.lines.filter(timedOut)).toEqual([]);
  }, 120_000);
});

describe('SHUTDOWN_DELAY_MS: the listener stays open after readiness turns 503', () => {
  it('during the delay a new connection gets /readyz 503 and a request answered with connection: close; then exit 0', async () => {
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '120000', SHUTDOWN_DELAY_MS: '3000' });
    const port = listeningPort(await server.waitFor(isListening));
    server.child.kill('SIGTERM');
    await server.waitFor((l) => String(l.msg).startsWith('shutting down'));

    const probe = await send(port, 'GET /readyz HTTP/1.1\r\nhost: x');
    const ready = parse((await readSlowly(probe.socket, probe.received)).bytes);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body.toString('utf8')).detail).toBe('Shutting down (SIGTERM).');

    const work = await send(
      port,
      'POST /v1/activations/relu/forward HTTP/1.1\r\nhost: x\r\ncontent-type: application/json',
      JSON.stringify({ z: [-1, 2] }),
    );
    const answer = parse((await readSlowly(work.socket, work.received)).bytes);
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ a: [0, 2] });

    expect(await bounded(server.exited, 30_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(server.lines.filter(timedOut)).toEqual([]);
  }, 60_000);
});
