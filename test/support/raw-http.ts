/** Raw HTTP/1.1 over node:net, for requests no HTTP client will send (malformed, oversized, trickled). */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses every response in `text` (a keep-alive connection can carry several), by Content-Length. */
export function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headEnd + 4;
    responses.push({
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: Buffer.from(rest.slice(bodyStart), 'latin1').subarray(0, length).toString('utf8'),
    });
    rest = rest.slice(bodyStart + Buffer.from(rest.slice(bodyStart), 'latin1').subarray(0, length).length);
  }
  return responses;
}

export interface RawConnection {
  socket: Socket;
  /** Everything received so far (latin1, byte for byte). */
  received(): string;
  /** Resolves when the socket closes. */
  closed: Promise<void>;
  /** The first error the socket saw (EPIPE, ECONNRESET), if any. */
  error(): NodeJS.ErrnoException | undefined;
}

export function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    let firstError: NodeJS.ErrnoException | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', (error) => {
      firstError ??= error;
    });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed, error: () => firstError }));
    socket.once('error', reject);
  });
}

/** Resolves true when `promise` settles within `ms`, false otherwise: every wait in a test is bounded. */
export function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** Sends `request` on a new connection and returns what came back once the server closes (within `ms`). */
export async function exchange(port: number, request: string, ms = 5000): Promise<RawResponse[]> {
  const connection = await openRaw(port);
  connection.socket.write(request);
  await within(connection.closed, ms);
  connection.socket.destroy();
  return parseResponses(connection.received());
}
