/**
 * The fuzz suite's (and the soak's) two ways of asking: a request through an undici client, keeping at most
 * the first MiB of the answer; and a raw HTTP/1.1 exchange on its own socket, for requests no client library
 * would send: write the bytes, read one response (until its Content-Length or chunked end, or the
 * connection's close, or a timeout).
 */
import { connect } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Answer } from './properties.js';

/** One request for an HTTP client: header pairs, repeats allowed (undici sends each). */
export interface ClientRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Buffer;
}

/**
 * How much of a refusal's body is kept: the rest is counted, not kept (a bloated error is still measured). A
 * 2xx body is kept whole, since its JSON must parse: the service bounds it (MAX_ELEMENTS per tensor), and a
 * 1.5 MB reply cut at 1 MiB read as "a 200 whose JSON body does not parse" (FUZZ_SEED=7 FUZZ_RUNS=300).
 */
const keptBytes = 1 << 20;

/** Sends the request through `client` and reads the whole answer, keeping a 2xx body whole, else keptBytes. */
export async function requestAnswer(client: Dispatcher, request: ClientRequest): Promise<Answer> {
  const res = await client.request({
    method: request.method,
    path: request.path,
    headers: request.headers.flat(),
    body: request.body,
  });
  const kept = res.statusCode >= 200 && res.statusCode < 300 ? Number.POSITIVE_INFINITY : keptBytes;
  const chunks: Buffer[] = [];
  let bodyBytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (bodyBytes < kept) chunks.push(chunk);
    bodyBytes += chunk.length;
  }
  return {
    status: res.statusCode,
    headers: res.headers,
    body: Buffer.concat(chunks).subarray(0, kept),
    bodyBytes,
  };
}

/** Writes the bytes and reads one response (until its Content-Length, or the connection's close). */
export function exchange(
  port: number,
  bytes: Buffer,
  timeoutMs: number,
  host = '127.0.0.1',
): Promise<{ raw: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (parseResponse(Buffer.concat(chunks))?.complete) finish(false);
    });
    socket.write(bytes, () => {});
  });
}

/** The status, headers and body of a raw HTTP/1.1 response, and whether all of its body is there. */
export function parseResponse(raw: Buffer): (Answer & { complete: boolean }) | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.toString('latin1', 0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  // An interim answer (100 Continue to an Expect) has no body: the final response follows it.
  if (status >= 100 && status < 200 && status !== 101) return parseResponse(raw.subarray(end + 4));
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  let complete: boolean;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    complete = false;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at);
      if (lineEnd < 0) break;
      const size = Number.parseInt(body.toString('latin1', at, lineEnd), 16);
      if (!Number.isFinite(size) || lineEnd + 2 + size > body.length) break;
      if (size === 0) {
        complete = true;
        break;
      }
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const length = Number(headers['content-length'] ?? 0);
    complete = body.length >= length;
    body = body.subarray(0, length);
  }
  return { status, headers, body, bodyBytes: body.length, complete };
}
