/**
 * Optional RATE_LIMIT: requests per minute to /v1 and /v2, per API key when keys are configured (a client
 * is its key, whichever address it calls from), per client IP otherwise; 429 problem with Retry-After
 * beyond. A request refused for want of a valid key counts too, per client IP, through countFailedAttempt
 * (auth.ts calls it before its 401): guessing keys is limited like any other traffic, on /metrics too when
 * METRICS_AUTH closes it. Probes, docs and /metrics otherwise are never limited: a kubelet or Prometheus must
 * not be locked out.
 * The count is per process (in memory): with WORKERS=n or several pods, a client gets up to n times the
 * limit, spread across them.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';
import { isComputePath } from './auth.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts a request refused before the rate limit's own hook (a failed login) against RATE_LIMIT, and
     * throws the 429 beyond it. Absent when RATE_LIMIT is 0.
     */
    countFailedAttempt?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  }
  interface FastifyRequest {
    /** Set by countFailedAttempt: a failed login counts even on a path the limit otherwise lets through. */
    isFailedLogin: boolean;
  }
}

export interface RateLimitOptions {
  /** Requests per minute; 0 = no limit. */
  perMinute: number;
}

export default fp(
  async (app: FastifyInstance, options: RateLimitOptions) => {
    if (options.perMinute <= 0) return;
    // Before the routes (the route plugins depend on rate-limit): it adds its hook to each route as declared.
    await app.register(rateLimit, {
      max: options.perMinute,
      timeWindow: 60_000,
      allowList: (request: FastifyRequest) => !request.isFailedLogin && !isComputePath(request),
      // auth.ts runs first (a global hook) and records which key the request carried.
      keyGenerator: (request: FastifyRequest) =>
        request.apiKeyIndex !== undefined ? `key:${request.apiKeyIndex}` : `ip:${request.ip}`,
      errorResponseBuilder: (_request, context) =>
        new ServiceError(
          429,
          'rate-limited',
          `More than ${context.max} requests per minute (RATE_LIMIT) from this client; retry in ${context.after}.`,
          undefined,
          { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        ),
    });
    // The same limiter and store as the routes' hook: a failed attempt (no apiKeyIndex) counts as ip:<address>,
    // whichever path it was made on (a failed /metrics login is no more free than a failed /v1 one). A flag,
    // not app.rateLimit({ allowList }): options would give the failed attempts a store of their own.
    app.decorateRequest('isFailedLogin', false);
    const limit = app.rateLimit();
    app.decorate('countFailedAttempt', (request: FastifyRequest, reply: FastifyReply) => {
      request.isFailedLogin = true;
      return limit.call(app, request, reply);
    });
  },
  // The key is request.apiKeyIndex, set by auth's hook: auth must be registered (and hook) first.
  { name: 'rate-limit', dependencies: ['auth'] },
);
