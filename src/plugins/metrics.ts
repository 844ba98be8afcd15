/**
 * GET /metrics in the Prometheus text format, from a registry of this app's own (tests build many apps
 * in one process; the global registry would mix them): request counts and latency per route and status
 * (fastify-metrics' histogram), requests in flight, prom-client's process and event-loop metrics, and
 * gradient_elements_computed_total.
 *
 * Under node:cluster each worker keeps its own counters, and a scrape lands on one worker: the worker asks
 * the primary, which sums every worker's registry (prom-client's AggregatorRegistry, see lifecycle.ts).
 */
import cluster from 'node:cluster';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyMetricsModule from 'fastify-metrics';
import fp from 'fastify-plugin';
import client, { AggregatorRegistry, Registry } from 'prom-client';
import { type Job, resultElements } from '../operations/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Adds the result elements of a completed operation to gradient_elements_computed_total. */
    countResult(request: FastifyRequest, job: Job): void;
  }
}

export const metricsPath = '/metrics';

// A CommonJS module whose plugin is its `default` property: under node's ESM interop the default import is
// the whole module.exports.
const fastifyMetrics = fastifyMetricsModule.default;

/** IPC between a worker's /metrics and the primary (lifecycle.ts answers). */
export const clusterMetricsRequest = 'gradient-service:metrics-request';
export const clusterMetricsResponse = 'gradient-service:metrics-response';

export interface ClusterMetricsMessage {
  type: typeof clusterMetricsResponse;
  id: number;
  metrics?: string;
  error?: string;
}

// Most requests take well under a millisecond to a few ms; large tensors take up to seconds.
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The metrics of every worker, summed by the primary; bounded so that a lost worker cannot hang a scrape. */
function askPrimary(timeoutMs = 5000): Promise<string> {
  const id = Math.floor(Math.random() * 2 ** 31);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the cluster primary did not answer the metrics request'));
    }, timeoutMs);
    function onMessage(message: ClusterMetricsMessage) {
      if (message?.type !== clusterMetricsResponse || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (message.metrics !== undefined) resolve(message.metrics);
      else reject(new Error(message.error ?? 'no metrics'));
    }
    process.on('message', onMessage);
    process.send?.({ type: clusterMetricsRequest, id });
  });
}

export default fp(
  async (app: FastifyInstance) => {
    const registry = new Registry();

    await app.register(fastifyMetrics, {
      promClient: client,
      // Served below, from this registry only (fastify-metrics' own route would merge in the global one).
      endpoint: null,
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: {
        // The histogram's _count is the request count; a summary's quantiles cannot be summed across pods.
        enabled: { histogram: true, summary: false },
        overrides: {
          histogram: {
            name: 'http_request_duration_seconds',
            help: 'Request duration in seconds, by method, route pattern and status code',
            buckets: latencyBuckets,
            registers: [registry],
          },
          // Disabled above, but fastify-metrics creates it anyway: keep it out of the global registry.
          summary: { registers: [registry] },
        },
      },
    });

    const inFlight = new client.Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests received and not yet answered',
      registers: [registry],
      // Each worker has its own in-flight count; the cluster total is their sum.
      aggregator: 'sum',
    });
    // Callback style, not async: no promise per request.
    app.addHook('onRequest', (_request, reply, done) => {
      inFlight.inc();
      // The response's 'close' fires once whether it finished or the client went away (onResponse may not).
      reply.raw.once('close', () => inFlight.dec());
      done();
    });

    const elements = new client.Counter({
      name: 'gradient_elements_computed_total',
      help: 'Numbers in the result tensors of successful compute requests (/v1 and /v2), by route pattern',
      labelNames: ['route'],
      registers: [registry],
    });
    // Called once per successful compute request: from the one function every /v1 operation route replies
    // through (routes/support.ts) and from /v2 inference (routes/v2.ts).
    app.decorate('countResult', (request: FastifyRequest, job: Job) => {
      elements.inc({ route: request.routeOptions.url ?? 'unknown' }, resultElements(job));
    });

    if (cluster.isWorker) {
      // The primary reads this worker's registry through prom-client's own IPC listener.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([registry]);
    }

    app.get(metricsPath, { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
      const text = cluster.isWorker ? await askPrimary() : await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });

    app.addHook('onClose', async () => registry.clear());
  },
  { name: 'metrics' },
);
