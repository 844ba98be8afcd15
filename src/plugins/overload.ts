/**
 * Load shedding with @fastify/under-pressure: while the event loop's mean delay or the heap in use is over
 * its threshold (MAX_EVENT_LOOP_DELAY_MS, MAX_HEAP_USED_BYTES; 0 = off), a request is answered at once with
 * a 503 problem and Retry-After, instead of waiting in a queue that only grows. /healthz stays 200 (the
 * process is alive: restarting it would lose the work in progress), /readyz turns 503 (the pod leaves the
 * Service until it recovers), and /metrics keeps answering, since that is when it is wanted most.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { HttpProblem } from './problem.js';

export interface OverloadOptions {
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  /** How often delay and heap are sampled (under-pressure's sampleInterval); tests shorten it. */
  sampleIntervalMs?: number;
  /** Seconds a shed client is told to wait. */
  retryAfterSeconds?: number;
}

const alwaysServed = new Set(['/healthz', '/metrics']);

export default fp(
  async (app: FastifyInstance, options: OverloadOptions) => {
    const { maxEventLoopDelayMs, maxHeapUsedBytes } = options;
    // Without thresholds there is nothing to watch; skip the sampling timer and the delay histogram.
    if (maxEventLoopDelayMs <= 0 && maxHeapUsedBytes <= 0) return;
    const retryAfter = String(options.retryAfterSeconds ?? 10);

    await app.register(underPressure, {
      maxEventLoopDelay: maxEventLoopDelayMs,
      maxHeapUsedBytes,
      sampleInterval: options.sampleIntervalMs ?? 1000,
      // Called only while over a threshold; resolving lets the request through, throwing answers it.
      pressureHandler: async (request: FastifyRequest, _reply, type, value) => {
        const path = request.routeOptions.url ?? request.url.split('?')[0];
        if (alwaysServed.has(path)) return;
        const measured =
          type === 'heapUsedBytes'
            ? `heap in use ${Math.round(value ?? 0)} bytes > MAX_HEAP_USED_BYTES ${maxHeapUsedBytes}`
            : `event-loop delay ${Math.round(value ?? 0)} ms > MAX_EVENT_LOOP_DELAY_MS ${maxEventLoopDelayMs}`;
        throw new HttpProblem(503, 'not-ready', `Overloaded (${measured}); retry later.`, undefined, {
          'retry-after': retryAfter,
        });
      },
    });
  },
  { name: 'overload' },
);
