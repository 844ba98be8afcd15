/**
 * Fastify's per-request log lines ("incoming request", "request completed"), at debug for the probes: a
 * kubelet calls /healthz and /readyz every few seconds per pod and Prometheus scrapes /metrics, and two info
 * lines per call would bury the requests that matter. Everything else, and a probe that errors, logs as
 * Fastify does.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** The probe routes: liveness and readiness (ours and the Open Inference Protocol's) and the scrape. */
export const probePaths: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/v2/health/live',
  '/v2/health/ready',
]);

const isProbe = (request: FastifyRequest): boolean => {
  const route = request.routeOptions.url;
  return route !== undefined && probePaths.has(route.length > 1 ? route.replace(/\/+$/, '') : route);
};

export class QuietProbeLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (!isProbe(request)) super.incomingRequest(request, reply);
    else if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error || !isProbe(request)) super.requestCompleted(error, request, reply);
    else if (!this.isLogDisabled(request))
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
