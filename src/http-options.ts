/**
 * The Fastify options that bound what one client can hold (timeouts), and the logger's redaction: kept
 * beside the config they come from, so that app.ts only spreads them in.
 */
import type { ServerOptions } from 'node:http';
import type { AppConfig } from './config.js';

/**
 * Timeouts: a client that trickles its headers (slowloris) or its body is cut off with a 408 when
 * headersTimeout or requestTimeout runs out, an idle socket after connectionTimeout, an idle keep-alive
 * connection after keepAliveTimeout.
 */
export function timeoutOptions(config: AppConfig): {
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
  http: ServerOptions;
} {
  return {
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      // Node refuses an HTTP/1.1 request without Host by itself, with an empty 400; client-errors.ts refuses
      // it instead, in the surface's shape (problem+json, { error } under /v2).
      requireHostHeader: false,
      // Node enforces the two timeouts by sweeping its connections every 30 s by default, so a 1 s timeout
      // could take 31 s to apply: sweep at a quarter of the shorter one (at least every 100 ms, at most 30 s).
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(100, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4)),
      ),
    },
  };
}

/** Request headers that carry secrets: never in a log line, whatever a serializer or a log call includes. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

/** The router's limit on one path parameter (Fastify's default, named here because the 414 says it). */
export const maxParamLength = 100;

/**
 * How much of a body is read and discarded after an early answer (a 413, 401, 404 sent while the body
 * still arrives), so that the client gets the answer rather than a reset: four times BODY_LIMIT, at least
 * 1 MiB. A body declared larger is not read: the connection is closed after the answer.
 */
export function lingerMaxBytes(config: AppConfig): number {
  return Math.max(4 * config.bodyLimit, 1_048_576);
}
