/**
 * Load shedding: while the event loop's mean delay or the heap in use is over its threshold
 * (MAX_EVENT_LOOP_DELAY_MS, MAX_HEAP_USED_BYTES; 0 = off), a request is answered at once with a 503 problem
 * and Retry-After, instead of waiting in a queue that only grows. /healthz stays 200 (the process is alive:
 * restarting it would lose the work in progress), /readyz turns 503 (the pod leaves the Service until it
 * recovers), and /metrics keeps answering, since that is when it is wanted most.
 *
 * The measuring runs on a timer (every sampleIntervalMs), not per request: it leaves the reason to shed, or
 * none, in one variable, and the per-request hook reads that variable and nothing else while all is well.
 *
 * Kept rather than @fastify/under-pressure 9, which measures the same way (mean of a 10 ms-resolution delay
 * histogram, minus the resolution) but takes an interval with no delay sample at all (one synchronous stretch
 * longer than the interval, e.g. a large request parsed on the loop) for an infinite delay and sheds every
 * request until the next sample; test/ops/overload.test.ts "under-pressure sheds after an interval without a
 * delay sample" shows it (`npx vitest run --project unit test/ops/overload.test.ts`). Ours takes how late
 * its own timer ran instead.
 */
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';

const alwaysServed = new Set(['/healthz', '/metrics']);

/** The delay histogram's timer period: its own lateness is this much, and is not the loop's delay. */
const resolutionMs = 10;

export interface OverloadOptions {
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  /** How often delay and heap are sampled; tests shorten it. */
  sampleIntervalMs?: number;
  /** Seconds a shed client is told to wait. */
  retryAfterSeconds?: number;
  /** The event-loop delay histogram; tests give a fake one, so that no test has to block the loop. */
  delayMonitor?: Pick<IntervalHistogram, 'count' | 'mean' | 'reset' | 'enable' | 'disable'>;
}

/**
 * The event loop's mean delay over the last interval, in ms. With no delay sample in the interval, the loop
 * never got to the histogram's timer: take how late the sampling timer itself ran instead (NaN, or infinity,
 * would shed on a single long request).
 */
export function meanDelayMs(
  delay: Pick<IntervalHistogram, 'count' | 'mean'>,
  elapsedMs: number,
  intervalMs: number,
): number {
  return delay.count > 0 ? Math.max(0, delay.mean / 1e6 - resolutionMs) : Math.max(0, elapsedMs - intervalMs);
}

export default fp(
  async (app: FastifyInstance, options: OverloadOptions) => {
    const { maxEventLoopDelayMs, maxHeapUsedBytes } = options;
    // Without thresholds there is nothing to watch: no timer, no hook.
    if (maxEventLoopDelayMs <= 0 && maxHeapUsedBytes <= 0) return;
    const retryAfter = String(options.retryAfterSeconds ?? 10);

    const delay = options.delayMonitor ?? monitorEventLoopDelay({ resolution: resolutionMs });
    /** Why requests are shed now (the measured value against its threshold), or undefined. */
    let overloaded: string | undefined;

    const intervalMs = options.sampleIntervalMs ?? 1000;
    let lastSample = performance.now();
    const sample = () => {
      const now = performance.now();
      const loopDelayMs = meanDelayMs(delay, now - lastSample, intervalMs);
      lastSample = now;
      delay.reset();
      const heapUsed = maxHeapUsedBytes > 0 ? process.memoryUsage().heapUsed : 0;
      if (maxEventLoopDelayMs > 0 && loopDelayMs > maxEventLoopDelayMs)
        overloaded = `event-loop delay ${Math.round(loopDelayMs)} ms > MAX_EVENT_LOOP_DELAY_MS ${maxEventLoopDelayMs}`;
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
