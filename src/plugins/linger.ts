/**
 * Lingering close (nginx's lingering_close): an answer sent before the request body has fully arrived (a 413
 * decided from Content-Length, a 401, a 404, a 429) is followed by reading and discarding the rest of the
 * body, so that a client still uploading receives the answer instead of a reset. Node would otherwise close
 * the socket right after the answer, and the client's next write fails with EPIPE before it reads anything.
 *
 * Bounded twice: at most `maxBytes` are discarded after the answer (the socket is destroyed beyond), and the
 * request as a whole still ends at REQUEST_TIMEOUT_MS (node's request timeout, whose 408 is not written on a
 * socket that has already answered: see client-errors.ts). A body that ends within the bounds leaves a
 * healthy keep-alive connection.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface LingerOptions {
  /** Most bytes of the body read and discarded after an early answer. */
  maxBytes: number;
}

/** Sockets whose request has been answered while its body is still being discarded. */
const lingering = new WeakSet<Socket>();

/** Whether the current request on `socket` has been answered already (its body is being discarded). */
export const isLingering = (socket: Socket): boolean => lingering.has(socket);

/** Whether the body of `request` is still arriving (a request without a body is complete with its head). */
function bodyStillArriving(request: IncomingMessage): boolean {
  // readableEnded too: a request injected in tests (light-my-request) never sets complete.
  if (request.complete || request.readableEnded) return false;
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length']) > 0;
}

/** The body length the request declares, or undefined for a chunked body. */
function declaredLength(request: IncomingMessage): number | undefined {
  if (request.headers['transfer-encoding'] !== undefined) return undefined;
  const declared = Number(request.headers['content-length']);
  return Number.isFinite(declared) ? declared : undefined;
}

function discardRest(request: IncomingMessage, socket: Socket, maxBytes: number): void {
  lingering.add(socket);
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) socket.destroy();
  };
  const done = () => {
    request.off('data', onData);
    lingering.delete(socket);
  };
  request.on('data', onData);
  request.once('end', done);
  request.once('close', done);
  request.resume();
}

export default fp(
  async (app: FastifyInstance, options: LingerOptions) => {
    // Callback style: it runs on every response, and only does anything when the body is still arriving.
    app.addHook('onSend', (request, reply, payload, done) => {
      const raw = request.raw;
      // While the app is not ready (draining for shutdown), connections are closed, not kept to linger.
      if (!bodyStillArriving(raw) || !app.readiness.ready) return done(null, payload);
      const socket = raw.socket;
      // Fastify's body parser sets Connection: close on its errors, and node then closes the socket as soon
      // as the answer is written. A body that fits the bound is discarded instead, keeping the connection;
      // one declared larger than the bound is not worth reading: close as before.
      const declared = declaredLength(raw);
      if (declared !== undefined && declared > options.maxBytes) {
        reply.header('connection', 'close');
        return done(null, payload);
      }
      if (String(reply.getHeader('connection')).toLowerCase() === 'close') reply.removeHeader('connection');
      reply.raw.once('finish', () => {
        if (bodyStillArriving(raw) && !socket.destroyed) discardRest(raw, socket, options.maxBytes);
      });
      done(null, payload);
    });
  },
  { name: 'linger' },
);
