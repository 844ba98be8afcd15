/**
 * The errors decided before any route sees the request, in the same shapes as every other error
 * (problem+json, `{ error }` on /v2): malformed HTTP, heads over 16 KiB and the request timeout (node's
 * clientError, answered on the raw socket), and URLs the router refuses (Fastify's frameworkErrors).
 * Fastify's defaults answer these with their own JSON (`{"error":"Bad Request","message":"Client Error"}`).
 */

import { type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';
import { maxParamLength } from '../http-options.js';
import { isLingering } from './linger.js';
import { pathOf, renderError, sendSurfaceError, shownPath } from './problem.js';
import { newRequestId, requestIdHeader } from './request-id.js';

interface ClientError extends Error {
  code?: string;
  /** llhttp's reason for a parse error ("Content-Length can't be present with Transfer-Encoding"). */
  reason?: string;
  /** The chunk being parsed when the error was found. */
  rawPacket?: Buffer;
}

const requestIdKey = Symbol('requestId');

/**
 * genReqId, also remembering the id on the raw request, so that a 408 written on the raw socket while the
 * body arrives carries the id that the request's log lines carry.
 */
export function rememberingRequestId(generate: (request: IncomingMessage) => string) {
  return (request: IncomingMessage): string => {
    const id = generate(request);
    (request as IncomingMessage & { [requestIdKey]?: string })[requestIdKey] = id;
    return id;
  };
}

/** The request line's method and target at the start of `packet`, as far as they arrived. */
function requestLineOf(packet: Buffer | undefined): { target: string; complete: boolean } | undefined {
  if (!packet) return undefined;
  // Enough to see a long target's start and whether the line ends; latin1 maps bytes 1:1.
  const head = packet.toString('latin1', 0, Math.min(packet.length, maxHeaderSize + 64));
  // Any method token (RFC 9110, 9.1), not only those llhttp knows: `get /v2/models` is refused for its method,
  // but its path, and so its surface, is known.
  const match = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ (\S*)( HTTP\/\d\.\d\r?\n)?/.exec(head);
  if (!match) return undefined;
  return { target: match[1], complete: match[2] !== undefined };
}

function classify(
  error: ClientError,
  config: FastifyInstance['config'],
  line: ReturnType<typeof requestLineOf>,
): ServiceError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ServiceError(
        408,
        'request-timeout',
        `The request did not arrive in time: headers are allowed ${config.headersTimeoutMs} ms (HEADERS_TIMEOUT_MS), the whole request ${config.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS).`,
      );
    case 'HPE_HEADER_OVERFLOW':
      // The request line alone overflowing node's head limit is a URI too long; otherwise the headers are.
      return line !== undefined && (!line.complete || line.target.length >= maxHeaderSize)
        ? new ServiceError(
            414,
            'uri-too-long',
            `The request line is longer than the ${maxHeaderSize} bytes the server reads of a request head.`,
          )
        : new ServiceError(
            431,
            'headers-too-large',
            `The request line and headers are longer than ${maxHeaderSize} bytes together.`,
          );
    default:
      return new ServiceError(
        400,
        'malformed-request',
        `The request is not valid HTTP/1.1${error.reason ? `: ${error.reason}` : ''} (${error.code ?? 'parse error'}).`,
      );
  }
}

/**
 * Fastify's clientErrorHandler (node's 'clientError'): answers parse errors and the request timeout with a
 * problem (or `{ error }` when the request line shows a /v2 path), then closes the connection, as node does.
 */
export function clientErrorHandler(this: FastifyInstance, connectionError: Error, socket: Socket): void {
  const error = connectionError as ClientError;
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node's rule: write an answer only if none has begun on this socket. A request already answered and
  // lingering (its body being discarded) gets no second status line: the socket is just closed.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  const isHttpError = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code?.startsWith('HPE_') === true;
  if (!isHttpError || !socket.writable || isLingering(socket)) {
    socket.destroy(error);
    return;
  }
  if (inFlight?.headersSent) {
    // The answer to the request whose body broke the parser has begun (a document sent from memory, say):
    // destroying the socket now drops whatever of it is still buffered, and the client gets nothing at all.
    closeWhenAnswered(inFlight, socket);
    return;
  }
  const request = inFlight?.req as (IncomingMessage & { [requestIdKey]?: string }) | undefined;
  const line = requestLineOf(error.rawPacket);
  const path = request?.url !== undefined ? pathOf(request.url) : line && pathOf(line.target);
  const requestId = request?.[requestIdKey] ?? newRequestId();
  const problem = classify(error, this.config, line);
  this.log.info(
    { requestId, problem: problem.code, code: error.code, path: path && shownPath(path) },
    'request rejected',
  );
  writeRawError(socket, problem, path, requestId);
}

/** How long a begun answer may take to finish on a connection whose parser failed. */
const begunAnswerGraceMs = 5000;

/**
 * Lets a begun answer finish, then closes the connection (the parser cannot go on with it): gracefully, so
 * that the kernel still sends what was written; destroyed if the answer has not finished within the grace.
 */
function closeWhenAnswered(response: ServerResponse, socket: Socket): void {
  const grace = setTimeout(() => socket.destroy(), begunAnswerGraceMs);
  grace.unref();
  socket.once('close', () => clearTimeout(grace));
  if (response.writableFinished) socket.end();
  else response.once('finish', () => socket.end());
}

/** Writes `error` as a whole response on a socket no ServerResponse owns, then closes the connection. */
function writeRawError(
  socket: Socket,
  error: ServiceError,
  path: string | undefined,
  requestId: string,
): void {
  const { contentType, body } = renderError(error, path, requestId);
  const head = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}`,
    `Content-Type: ${contentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `${requestIdHeader}: ${requestId}`,
    ...Object.entries(error.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ].join('\r\n');
  // end, then destroy once written: the parser cannot continue on this connection.
  socket.end(`${head}\r\n\r\n${body}`, () => socket.destroy());
}

/** The methods some route of this server answers, for the Allow header of a CONNECT's 405. */
const servedMethods = 'GET, HEAD, POST';

/**
 * Requests node answers before Fastify sees them, in the same shapes: CONNECT (node would close the socket
 * without a word: this is no proxy, so 405), an Expect header other than 100-continue (node's 417 has no
 * body) and an HTTP/1.1 request without Host (node's 400 has none either).
 */
export function answerNodeLevelRequests(app: FastifyInstance): void {
  // HTTP/1.1 requires a Host header (RFC 9112, 3.2). Node's own check is off (http-options.ts): its 400 has
  // no body. Callback style: this runs on every request.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      reply.header(requestIdHeader, request.id);
      done(new ServiceError(400, 'malformed-request', 'An HTTP/1.1 request needs a Host header.'));
      return;
    }
    done();
  });
  app.server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    const requestId = newRequestId();
    const error = new ServiceError(
      405,
      'method-not-allowed',
      `CONNECT is not allowed: this service is not a proxy; allowed: ${servedMethods}.`,
      undefined,
      { allow: servedMethods },
    );
    app.log.info({ requestId, problem: error.code, method: 'CONNECT' }, 'request rejected');
    writeRawError(socket, error, undefined, requestId);
  });
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = newRequestId();
    const path = pathOf(request.url ?? '/');
    const error = new ServiceError(
      417,
      'expectation-failed',
      `Expect: ${shownPath(String(request.headers.expect))} is not supported: only 100-continue is.`,
    );
    app.log.info({ requestId, problem: error.code, path: shownPath(path) }, 'request rejected');
    const { contentType, body } = renderError(error, path, requestId);
    response
      .writeHead(417, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
        [requestIdHeader]: requestId,
        // The body the client meant to send may follow: do not read it as the next request.
        connection: 'close',
      })
      .end(body);
  });
}

/**
 * Fastify's frameworkErrors: a path that is not valid percent-encoding (FST_ERR_BAD_URL), or a path
 * parameter over the router's maxParamLength (FST_ERR_MAX_PARAM_LENGTH). The request hooks have not run,
 * so the request id header is set here.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const path = pathOf(request.url);
  const problem =
    error.code === 'FST_ERR_BAD_URL'
      ? new ServiceError(400, 'bad-url', `The path is not valid percent-encoding: ${shownPath(path)}.`)
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new ServiceError(
            414,
            'uri-too-long',
            `A path segment of ${shownPath(path)} is longer than ${maxParamLength} characters.`,
          )
        : new ServiceError(error.statusCode ?? 400, 'invalid-request', error.message);
  request.log.info({ problem: problem.code, code: error.code }, 'request rejected');
  reply.header(requestIdHeader, request.id);
  return sendSurfaceError(reply, problem);
}
