/**
 * A typed client for the /v1 routes of gradient-service, on undici (one keep-alive Pool per client).
 * Request and response types are the service's own TypeBox schemas (Static<typeof Schema>), imported as
 * types only, so the client carries no server code at run time.
 *
 *     const client = createClient({ baseUrl: 'http://localhost:8080', apiKey: process.env.GS_KEY });
 *     const { a } = await client.activationForward('sigmoid', { z: [-2, 0, 2] });
 *     await client.close();
 *
 * Errors: a 4xx/5xx is thrown as GradientServiceError carrying the problem+json fields (status, type, title,
 * detail, errors, requestId). Transport failures (refused, reset, timeout) are thrown as undici raised them.
 *
 * Retries (at most `retries`, default 2; delays from Retry-After, else 100 ms doubling with jitter, always
 * within `timeout`):
 * - GET: on transport errors and on 429, 502, 503, 504.
 * - POST: only where the server certainly did not compute: the connection was never made (refused, DNS,
 *   connect timeout), or a 429 or 503 that carries Retry-After (rate limit, load shedding, shutdown). A POST
 *   whose connection broke after it was sent is not retried: the POSTs are pure, but a heavy one that an
 *   overloaded server did run should not be run twice.
 */

import type { Static } from 'typebox';
import { Pool } from 'undici';
import type {
  ActivationInfo as ActivationInfoSchema,
  DerivativeBody,
  DerivativeReply,
  ForwardBody,
  ForwardReply,
} from '../schemas/activations.js';
import type { Problem } from '../schemas/common.js';
import type { OutputLayerBody, OutputLayerReply } from '../schemas/output-layer.js';
import type { JacobianBody, JacobianReply, VjpBody, VjpReply } from '../schemas/softmax.js';

export type ActivationInfo = Static<typeof ActivationInfoSchema>;
export type ForwardRequest = Static<typeof ForwardBody>;
export type ForwardResponse = Static<typeof ForwardReply>;
export type DerivativeRequest = Static<typeof DerivativeBody>;
export type DerivativeResponse = Static<typeof DerivativeReply>;
export type JacobianRequest = Static<typeof JacobianBody>;
export type JacobianResponse = Static<typeof JacobianReply>;
export type VjpRequest = Static<typeof VjpBody>;
export type VjpResponse = Static<typeof VjpReply>;
export type OutputLayerRequest = Static<typeof OutputLayerBody>;
export type OutputLayerResponse = Static<typeof OutputLayerReply>;
export type ProblemDetails = Static<typeof Problem>;

export interface ClientOptions {
  /** Where the service is, e.g. http://localhost:8080 (a path prefix is kept: http://host/gradients). */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Milliseconds for a whole call, retries included (default 30000). */
  readonly timeout?: number;
  /** Most retries of a call (default 2). */
  readonly retries?: number;
  /** Most connections kept open to the service (default 8). */
  readonly connections?: number;
}

export interface PlotQuery {
  readonly from?: number;
  readonly to?: number;
  /** Activation params, e.g. { alpha: 0.2 }. */
  readonly params?: Readonly<Record<string, number>>;
}

export class GradientServiceError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly { path: string; message: string }[];
  readonly requestId?: string;
  readonly instance?: string;
  /** Retry-After in seconds, when the service sent one (429, 503). */
  readonly retryAfter?: number;

  constructor(status: number, problem: Partial<ProblemDetails>, retryAfter?: number) {
    super(`${status} ${problem.title ?? 'Error'}: ${problem.detail ?? ''}`.trim());
    this.name = 'GradientServiceError';
    this.status = status;
    this.type = problem.type ?? 'about:blank';
    this.title = problem.title ?? 'Error';
    this.detail = problem.detail ?? '';
    this.errors = problem.errors ?? [];
    this.requestId = problem.requestId;
    this.instance = problem.instance;
    this.retryAfter = retryAfter;
  }
}

/** undici / Node codes of failures before the request reached the server: safe to retry any method. */
const notSentCodes = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
/** Failures after the request may have been sent: retried for GET only. */
const brokenCodes = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
]);

const errorCode = (error: unknown): string | undefined => {
  const e = error as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
};

/** Retry-After as seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export function createClient(options: ClientOptions) {
  const url = new URL(options.baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const timeout = options.timeout ?? 30_000;
  const retries = options.retries ?? 2;
  const pool = new Pool(url.origin, { connections: options.connections ?? 8, keepAliveTimeout: 30_000 });
  const baseHeaders: Record<string, string> = {
    accept: 'application/json, application/problem+json',
    'user-agent': 'gradient-service-client/1.0.0',
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
  };

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    read: 'json' | 'text' = 'json',
  ): Promise<T> {
    const signal = AbortSignal.timeout(timeout);
    const deadline = Date.now() + timeout;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const backoff = 100 * 2 ** attempt * (0.5 + Math.random() / 2);
      let response: Awaited<ReturnType<Pool['request']>>;
      try {
        response = await pool.request({
          method,
          path: prefix + path,
          headers:
            payload === undefined ? baseHeaders : { ...baseHeaders, 'content-type': 'application/json' },
          body: payload,
          signal,
        });
      } catch (error) {
        const code = errorCode(error);
        const retryable =
          !signal.aborted &&
          code !== undefined &&
          (notSentCodes.has(code) || (method === 'GET' && brokenCodes.has(code)));
        if (!retryable || attempt >= retries || Date.now() + backoff >= deadline) throw error;
        await sleep(backoff, signal);
        continue;
      }

      const { statusCode, headers } = response;
      if (statusCode < 400) {
        return (read === 'json' ? await response.body.json() : await response.body.text()) as T;
      }
      const text = await response.body.text();
      const retryAfter = parseRetryAfter(headers['retry-after']);
      let problem: Partial<ProblemDetails>;
      try {
        problem = JSON.parse(text) as Partial<ProblemDetails>;
        if (problem === null || typeof problem !== 'object') throw new Error('not an object');
      } catch {
        problem = { title: `HTTP ${statusCode}`, detail: text.slice(0, 500) };
      }
      const error = new GradientServiceError(statusCode, problem, retryAfter);
      const retryable =
        method === 'GET'
          ? [429, 502, 503, 504].includes(statusCode)
          : [429, 503].includes(statusCode) && retryAfter !== undefined;
      const delay = retryAfter !== undefined ? retryAfter * 1000 : backoff;
      if (!retryable || attempt >= retries || Date.now() + delay >= deadline) throw error;
      await sleep(delay, signal);
    }
  }

  const named = (name: string) => encodeURIComponent(name);

  return {
    /** GET /v1/activations */
    listActivations: () => call<{ activations: ActivationInfo[] }>('GET', '/v1/activations', undefined),
    /** GET /v1/activations/{name} */
    getActivation: (name: string) => call<ActivationInfo>('GET', `/v1/activations/${named(name)}`, undefined),
    /** POST /v1/activations/{name}/forward */
    activationForward: (name: string, body: ForwardRequest) =>
      call<ForwardResponse>('POST', `/v1/activations/${named(name)}/forward`, body),
    /** POST /v1/activations/{name}/derivative */
    activationDerivative: (name: string, body: DerivativeRequest) =>
      call<DerivativeResponse>('POST', `/v1/activations/${named(name)}/derivative`, body),
    /** POST /v1/softmax/jacobian */
    softmaxJacobian: (body: JacobianRequest) => call<JacobianResponse>('POST', '/v1/softmax/jacobian', body),
    /** POST /v1/softmax/vjp */
    softmaxVjp: (body: VjpRequest) => call<VjpResponse>('POST', '/v1/softmax/vjp', body),
    /** POST /v1/gradients/output-layer */
    outputLayerGradients: (body: OutputLayerRequest) =>
      call<OutputLayerResponse>('POST', '/v1/gradients/output-layer', body),
    /** GET /v1/activations/{name}/plot.svg: the SVG text. */
    plotActivation: (name: string, query: PlotQuery = {}) => {
      const search = new URLSearchParams();
      if (query.from !== undefined) search.set('from', String(query.from));
      if (query.to !== undefined) search.set('to', String(query.to));
      for (const [k, v] of Object.entries(query.params ?? {})) search.set(k, String(v));
      const qs = search.size ? `?${search}` : '';
      return call<string>('GET', `/v1/activations/${named(name)}/plot.svg${qs}`, undefined, 'text');
    },
    /** GET /healthz */
    healthz: () => call<{ status: 'ok' }>('GET', '/healthz', undefined),
    /** GET /readyz */
    readyz: () => call<{ status: 'ready' }>('GET', '/readyz', undefined),
    /** Closes the pooled connections. */
    close: () => pool.close(),
  };
}

export type GradientServiceClient = ReturnType<typeof createClient>;
