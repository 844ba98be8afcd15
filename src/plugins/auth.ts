/**
 * Optional bearer authentication (API_KEYS): /v1/* and /v2/* need `Authorization: Bearer <key>`, and so
 * does /metrics when METRICS_AUTH=true. Probes, docs and the OpenAPI document stay open, so that
 * Kubernetes and a reader of the docs need no key. Routes are matched by prefix, so routes added later
 * under /v1 or /v2 are covered without naming them here.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';
import { metricsPath } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Which configured key the request carried (its position), once authenticated; the rate limit keys on it. */
    apiKeyIndex?: number;
  }
}

export interface AuthOptions {
  apiKeys: readonly string[];
  metricsAuth: boolean;
}

export const realm = 'gradient-service';
const protectedPrefixes = ['/v1', '/v2'];
// The Open Inference Protocol's own liveness and readiness probes: open, like /healthz and /readyz.
const openPrefix = '/v2/health/';

/** /v1, /v2 and everything under them, except the /v2 health probes. */
export function isComputeRoute(path: string): boolean {
  if (path.startsWith(openPrefix)) return false;
  return protectedPrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * Whether a request is for a compute route, by the matched route pattern and by the raw path, so that
 * neither an unmatched path nor an encoded one (/%761/...) slips past.
 */
export function isComputePath(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route?.startsWith(openPrefix)) return false;
  return (route !== undefined && isComputeRoute(route)) || isComputeRoute(request.url.split('?')[0]);
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * The position of the key in `authorization` among `keys` (digests), or -1. Comparing equal-length
 * digests with timingSafeEqual, and always against every key, leaks neither a key's length nor how many
 * leading characters a guess got right.
 */
export function matchKey(authorization: string | undefined, keys: readonly Buffer[]): number {
  const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '')?.[1];
  if (token === undefined) return -1;
  const candidate = digest(token);
  let found = -1;
  for (let i = 0; i < keys.length; i++) if (timingSafeEqual(candidate, keys[i]) && found < 0) found = i;
  return found;
}

export default fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    if (options.apiKeys.length === 0) return;
    const keys = options.apiKeys.map(digest);
    app.decorateRequest('apiKeyIndex', undefined);

    app.addHook('onRequest', async (request, reply) => {
      const isMetrics = request.routeOptions.url === metricsPath || request.url.split('?')[0] === metricsPath;
      const needsKey = isComputePath(request) || (options.metricsAuth && isMetrics);
      if (!needsKey) return;
      const authorization = request.headers.authorization;
      const index = matchKey(authorization, keys);
      if (index >= 0) {
        request.apiKeyIndex = index;
        return;
      }
      // A failed attempt counts against RATE_LIMIT per client address (a 429 beyond it), or keys could be
      // guessed at full speed: auth runs before the rate limit's route hook, which never sees this request.
      await request.server.countFailedAttempt?.(request, reply);
      // RFC 6750: no credentials -> just the challenge; wrong credentials -> error="invalid_token".
      const challenge =
        authorization === undefined
          ? `Bearer realm="${realm}"`
          : `Bearer realm="${realm}", error="invalid_token"`;
      throw new ServiceError(
        401,
        'unauthorized',
        authorization === undefined
          ? 'This route needs an API key: send Authorization: Bearer <key>.'
          : 'The Authorization header does not carry a valid API key (expected Bearer <key>).',
        undefined,
        { 'www-authenticate': challenge },
      );
    });
  },
  { name: 'auth', dependencies: ['problem'] },
);
