/**
 * GET /metrics in the Prometheus text format, from a registry of this app's own (tests build many apps
 * in one process; the global registry would mix them): request counts and latency per route and status
 * (http_request_duration_seconds), requests in flight, prom-client's process and event-loop metrics, and
 * gradient_elements_computed_total.
 *
 * Per request this costs one listener and one observation: every route gets, once when it is declared, its
 * own onRequest hook and its own counters (so nothing reads request.routeOptions, which builds an object per
 * call), and a child of prom-client's histogram per (route, status) through its public labels(). An earlier
 * subclass that kept the buckets in typed arrays and overrode prom-client's undocumented getForPromString()
 * saved nothing measurable (README's Performance section, bench/ab.ts forward/16).
 *
 * Under node:cluster each worker keeps its own counters, and a scrape lands on one worker: the worker asks
 * the primary, which sums every worker's registry (prom-client's AggregatorRegistry, see lifecycle.ts).
 */
import cluster from 'node:cluster';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type Job, resultElements } from '../operations/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Adds the result elements of a completed operation to gradient_elements_computed_total. */
    countResult(request: FastifyRequest, job: Job): void;
  }
}

export const metricsPath = '/metrics';

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

type LatencyLabels = 'method' | 'route' | 'status_code';
/** prom-client's own child of the histogram for one label set (what `labels()` returns). */
type LatencySeries = ReturnType<Histogram<LatencyLabels>['labels']>;

/** What one route counts, created once when the route is declared: its latency series per status code. */
class RouteMetrics {
  private readonly byStatus = new Map<number, LatencySeries>();
  /** Numbers in the result tensors of this route's successful compute requests. */
  elements = 0;
  constructor(
    readonly method: string,
    readonly route: string,
    readonly owner: AppMetrics,
  ) {}

  latency(status: number): LatencySeries {
    let series = this.byStatus.get(status);
    if (!series) {
      series = this.owner.latency.labels({
        method: this.method,
        route: this.route,
        status_code: String(status),
      });
      this.byStatus.set(status, series);
    }
    return series;
  }
}

/** One app's counters (tests build several apps in one process). */
interface AppMetrics {
  readonly latency: Histogram<LatencyLabels>;
  readonly routes: Map<string, RouteMetrics>;
  inFlight: number;
}

const routeKey = (method: string, url: string) => `${method} ${url}`;

// Per request, on the raw response (the one object the response's 'close' listener gets): its app's counters,
// when it arrived, the Fastify request (for a request answered before its route's hooks ran), and the route's
// counters once its route-level hook ran (also on the Fastify request, for countResult).
const appMetrics = Symbol('metrics.app');
const arrivedAt = Symbol('metrics.arrivedAt');
const fastifyRequest = Symbol('metrics.request');
const routeMetrics = Symbol('metrics.route');
interface TrackedResponse extends ServerResponse {
  [appMetrics]: AppMetrics;
  [arrivedAt]: number;
  [fastifyRequest]: FastifyRequest;
  [routeMetrics]?: RouteMetrics;
}
type TrackedRequest = FastifyRequest & { [routeMetrics]?: RouteMetrics };

/**
 * The response's 'close' fires once, whether it finished or the client went away (onResponse may not): the
 * request leaves the in-flight count then. A response that was sent whole (ended) is one latency sample of its
 * route and status; one the client left before is not (what would its status be?). A module-level function with `this`, so
 * that no closure is made per request.
 */
function onResponseClosed(this: TrackedResponse): void {
  const metrics = this[appMetrics];
  metrics.inFlight--;
  if (!this.writableEnded) return;
  let route = this[routeMetrics];
  if (route === undefined) {
    // Answered before the route's own hooks ran (401, 429, 503 from a global hook): look the route up once.
    const { method, url } = this[fastifyRequest].routeOptions;
    if (url === undefined || method === undefined) return;
    route = metrics.routes.get(routeKey(String(method), url));
    if (route === undefined) return;
  }
  route.latency(this.statusCode).observe((performance.now() - this[arrivedAt]) / 1000);
}

export default fp(
  async (app: FastifyInstance) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });

    const metrics: AppMetrics = {
      // The histogram's _count is the request count; a summary's quantiles could not be summed across pods.
      latency: new Histogram({
        name: 'http_request_duration_seconds',
        help: 'Request duration in seconds, by method, route pattern and status code',
        buckets: latencyBuckets,
        labelNames: ['method', 'route', 'status_code'],
        registers: [registry],
      }),
      routes: new Map(),
      inFlight: 0,
    };

    new Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests received and not yet answered',
      registers: [registry],
      // Each worker has its own in-flight count; the cluster total is their sum.
      aggregator: 'sum',
      collect() {
        this.set(metrics.inFlight);
      },
    });

    new Counter({
      name: 'gradient_elements_computed_total',
      help: 'Numbers in the result tensors of successful compute requests (/v1 and /v2), by route pattern',
      labelNames: ['route'],
      registers: [registry],
      collect() {
        this.reset();
        for (const route of metrics.routes.values())
          if (route.elements > 0) this.inc({ route: route.route }, route.elements);
      },
    });

    // Every request, matched or not: in flight from here until its response closes. Registered before the
    // plugins whose hooks may answer early (auth, overload), so that those answers are counted too.
    app.addHook('onRequest', (request, reply, done) => {
      const res = reply.raw as TrackedResponse;
      res[appMetrics] = metrics;
      res[fastifyRequest] = request;
      res[arrivedAt] = performance.now();
      metrics.inFlight++;
      res.on('close', onResponseClosed);
      done();
    });

    // Each route gets its counters when it is declared, and a hook that hands them to its requests.
    app.addHook('onRoute', (route) => {
      const byMethod = new Map<string, RouteMetrics>();
      for (const method of ([] as string[]).concat(route.method)) {
        const counters = new RouteMetrics(method, route.url, metrics);
        metrics.routes.set(routeKey(method, route.url), counters);
        byMethod.set(method, counters);
      }
      const [only] = byMethod.values();
      const hook: onRequestHookHandler =
        byMethod.size === 1
          ? (request, reply, done) => {
              (request as TrackedRequest)[routeMetrics] = only;
              (reply.raw as TrackedResponse)[routeMetrics] = only;
              done();
            }
          : (request, reply, done) => {
              const counters = byMethod.get(request.method);
              (request as TrackedRequest)[routeMetrics] = counters;
              (reply.raw as TrackedResponse)[routeMetrics] = counters;
              done();
            };
      // A new array: Fastify's HEAD twin of a GET route starts from a shallow copy of the same options.
      route.onRequest = [hook, ...([] as onRequestHookHandler[]).concat(route.onRequest ?? [])];
    });

    // Called once per successful compute request: from the one function every /v1 operation route replies
    // through (routes/support.ts) and from /v2 inference (routes/v2.ts).
    app.decorate('countResult', (request: FastifyRequest, job: Job) => {
      const route = (request as TrackedRequest)[routeMetrics];
      if (route) route.elements += resultElements(job);
    });

    if (cluster.isWorker) {
      // The primary reads this worker's registry through prom-client's own IPC listener.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([registry]);
    }

    // Its request lines go out at debug, like the other probes (request-logging.ts).
    app.get(metricsPath, { schema: { hide: true } }, async (_request, reply) => {
      const text = cluster.isWorker ? await askPrimary() : await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });

    app.addHook('onClose', async () => registry.clear());
  },
  { name: 'metrics' },
);
