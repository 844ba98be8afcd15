/**
 * Load shedding: while the event loop's mean delay or the heap in use is over its threshold
 * (MAX_EVENT_LOOP_DELAY_MS, MAX_HEAP_USED_BYTES; 0 = off), a request is answered at once with a 503 problem
 * and Retry-After, instead of waiting in a queue that only grows. /healthz stays 200 (the process is alive:
 * restarting it would lose the work in progress), /readyz turns 503 (the pod leaves the Service until it
 * recovers), and /metrics keeps answering, since that is when it is wanted most.
 *
 * The measuring runs on a timer (every sampleIntervalMs), not per request: it leaves the reason to shed, or
 * none, in one variable, and the per-request hook reads that variable and nothing else while all is well.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';

export interface OverloadOptions {
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  /** How often delay and heap are sampled; tests shorten it. */
  sampleIntervalMs?: number;
  /** Seconds a shed client is told to wait. */
  retryAfterSeconds?: number;
}

const alwaysServed = new Set(['/healthz', '/metrics']);

/** The delay histogram's timer period: its own lateness is this much, and is not the loop's delay. */
const resolutionMs = 10;

export default fp(
  async (app: FastifyInstance, options: OverloadOptions) => {
    const { maxEventLoopDelayMs, maxHeapUsedBytes } = options;
    // Without thresholds there is nothing to watch: no timer, no hook.
    if (maxEventLoopDelayMs <= 0 && maxHeapUsedBytes <= 0) return;
    const retryAfter = String(options.retryAfterSeconds ?? 10);

    const delay = monitorEventLoopDelay({ resolution: resolutionMs });
    /** Why requests are shed now (the measured value against its threshold), or undefined. */
    let overloaded: string | undefined;

    const intervalMs = options.sampleIntervalMs ?? 1000;
    let lastSample = performance.now();
    const sample = () => {
      const now = performance.now();
      // With no delay sample in the interval, the loop never got to the histogram's timer: take how late this
      // timer itself ran instead (NaN, or infinity, would shed on a single long request).
      const meanDelayMs =
        delay.count > 0
          ? Math.max(0, delay.mean / 1e6 - resolutionMs)
          : Math.max(0, now - lastSample - intervalMs);
      lastSample = now;
      delay.reset();
      const heapUsed = maxHeapUsedBytes > 0 ? process.memoryUsage().heapUsed : 0;
      if (maxEventLoopDelayMs > 0 && meanDelayMs > maxEventLoopDelayMs)
        overloaded = `event-loop delay ${Math.round(meanDelayMs)} ms > MAX_EVENT_LOOP_DELAY_MS ${maxEventLoopDelayMs}`;
      else if (maxHeapUsedBytes > 0 && heapUsed > maxHeapUsedBytes)
        overloaded = `heap in use ${heapUsed} bytes > MAX_HEAP_USED_BYTES ${maxHeapUsedBytes}`;
      else overloaded = undefined;
    };
    let timer: NodeJS.Timeout | undefined;
    // From ready on: loading the app (modules compiled, plugins registered) blocks the loop, and is no load.
    app.addHook('onReady', (done) => {
      delay.enable();
      lastSample = performance.now();
      timer = setInterval(sample, intervalMs);
      // The sampler alone must not keep the process alive.
      timer.unref();
      done();
    });
    app.addHook('onClose', (_app, done) => {
      clearInterval(timer);
      delay.disable();
      done();
    });

    app.addHook('onRequest', (request, _reply, done) => {
      if (overloaded === undefined) return done();
      const path = request.routeOptions.url ?? request.url.split('?')[0];
      if (alwaysServed.has(path)) return done();
      done(
        new ServiceError(503, 'not-ready', `Overloaded (${overloaded}); retry later.`, undefined, {
          'retry-after': retryAfter,
        }),
      );
    });
  },
  { name: 'overload', dependencies: ['problem'] },
);
