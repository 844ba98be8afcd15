/**
 * A typed client for the /v1 routes of gradient-service, on undici (one keep-alive Pool per client). Its
 * types (./types.ts) are plain interfaces kept equal to the service's schemas, so a consumer compiles one
 * small declaration file; at run time it needs undici alone.
 *
 *     const client = createClient({ baseUrl: 'http://localhost:8080', apiKey: process.env.GS_KEY });
 *     const { a } = await client.activationForward('sigmoid', { z: [-2, 0, 2] }); // a: number[]
 *     await client.close();
 *
 * Errors: a 3xx, 4xx or 5xx is thrown as GradientServiceError carrying the problem+json fields (status,
 * type, title, detail, errors, requestId). A reply larger than `maxResponseBytes` is not read beyond that:
 * ResponseTooLargeError. Transport failures (refused, reset, timeout) are thrown as undici raised them.
 *
 * Retries (at most `retries`, default 2; delays from Retry-After, else 100 ms doubling with jitter, always
 * within `timeout`):
 * - GET: on transport errors and on 429, 502, 503, 504.
 * - POST, always: where the service refused before any work: the connection was never made (refused, DNS,
 *   connect timeout), or the service's own 429 or 503 with Retry-After (rate limit, load shedding, a full
 *   queue, its memory budget, a draining instance).
 * - POST, unless `retryInterrupted: false`: a request whose connection broke after it was sent (a replica
 *   killed or restarted mid-request), or a 502, 503 or 504 that is not the service's own answer (no
 *   problem+json body: a proxy's). The operations are pure, so a repeat costs CPU, never correctness.
 * - Never: the service's 504 computation-timeout (the work ran to OFFLOAD_TIMEOUT_MS; a repeat would too),
 *   a 500, or any other 4xx.
 */

import { Pool } from 'undici';
import type {
  ActivationInfo,
  ActivationJacobianRequest,
  ActivationName,
  ActivationVjpRequest,
  CheckRequest,
  CheckResponse,
  DerivativeRequest,
  DerivativeResponse,
  ForwardRequest,
  ForwardResponse,
  HessianVectorRequest,
  HessianVectorResponse,
  JacobianRequest,
  JacobianResponse,
  NetworkRequest,
  NetworkResponse,
  OutputLayerRequest,
  OutputLayerResponse,
  ProblemDetails,
  SecondDerivativeRequest,
  SecondDerivativeResponse,
  Tensor,
  VectorActivationName,
  VjpRequest,
  VjpResponse,
} from './types.js';

export * from './types.js';

export interface ClientOptions {
  /** Where the service is, e.g. http://localhost:8080 (a path prefix is kept: http://host/gradients). */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Milliseconds for a whole call, retries included (default 30000). */
  readonly timeout?: number;
  /** Most retries of a call (default 2). */
  readonly retries?: number;
  /**
   * Whether a POST is repeated when its connection broke after it was sent, or when a proxy (not the service:
   * no problem+json body) answered 502, 503 or 504 (default true). The operations are pure, so a repeat
   * costs CPU, never correctness; false sends each POST at most once unless the service refused it unread.
   */
  readonly retryInterrupted?: boolean;
  /** Most connections kept open to the service (default 8). */
  readonly connections?: number;
  /**
   * Most bytes of a reply body the client reads (default 64 MiB, above the largest reply of a service with
   * the default MAX_ELEMENTS). A larger reply is refused from its Content-Length, or cut off once this many
   * bytes arrived, and the call throws ResponseTooLargeError.
   */
  readonly maxResponseBytes?: number;
}

export const defaultMaxResponseBytes = 64 * 1024 * 1024;

/** Most bytes of an error body read: the service's problems stay under 16 KB; the rest of a larger one is dropped. */
export const errorBodyBytes = 64 * 1024;

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
  /** How many validation failures the service left out of `errors` (it lists the first few dozen). */
  readonly errorsOmitted?: number;
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
    this.errorsOmitted = problem.errorsOmitted;
    this.requestId = problem.requestId;
    this.instance = problem.instance;
    this.retryAfter = retryAfter;
  }
}

/** A reply body larger than maxResponseBytes: not read beyond the limit. */
export class ResponseTooLargeError extends Error {
  readonly code = 'GS_RESPONSE_TOO_LARGE';
  constructor(
    readonly limit: number,
    /** The Content-Length the server announced, when it did. */
    readonly contentLength?: number,
  ) {
    super(
      `The reply is larger than maxResponseBytes (${limit} bytes)${contentLength === undefined ? '' : `: Content-Length ${contentLength}`}; raise maxResponseBytes or send smaller requests.`,
    );
    this.name = 'ResponseTooLargeError';
  }
}

/** A float64 tensor for the binary methods: [K] for one sample, [N, K] for a batch (row-major). */
export interface BinaryTensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

/** The media type of binary tensor bodies (the Open Inference Protocol's binary extension, on /v1). */
export const tensorMediaType = 'application/vnd.gradient-service.tensor+octet-stream';
const headerLengthHeader = 'inference-header-content-length';

export interface GradientServiceClient {
  /** GET /v1/activations */
  listActivations(): Promise<{ activations: ActivationInfo[] }>;
  /** GET /v1/activations/{name} */
  getActivation(name: ActivationName): Promise<ActivationInfo>;
  /** POST /v1/activations/{name}/forward: one sample in, one out; a batch in, a batch out. */
  activationForward<T extends Tensor>(
    name: ActivationName,
    body: ForwardRequest<T>,
  ): Promise<ForwardResponse<T>>;
  /** POST /v1/activations/{name}/derivative */
  activationDerivative<T extends Tensor>(
    name: ActivationName,
    body: DerivativeRequest<T>,
  ): Promise<DerivativeResponse<T>>;
  /** POST /v1/activations/{name}/second-derivative: g'', g' (and a from z); softmax and log_softmax are a 400. */
  activationSecondDerivative<T extends Tensor>(
    name: ActivationName,
    body: SecondDerivativeRequest<T>,
  ): Promise<SecondDerivativeResponse<T>>;
  /** POST /v1/activations/{name}/jacobian (vector activations): K x K for one sample, N x K x K for a batch. */
  activationJacobian<T extends Tensor>(
    name: VectorActivationName,
    body: ActivationJacobianRequest<T>,
  ): Promise<JacobianResponse<T>>;
  /** POST /v1/activations/{name}/vjp (vector activations): v^T J without building J. */
  activationVjp<T extends Tensor>(
    name: VectorActivationName,
    body: ActivationVjpRequest<T>,
  ): Promise<VjpResponse<T>>;
  /** POST /v1/softmax/jacobian: K x K for one sample, N x K x K for a batch. */
  softmaxJacobian<T extends Tensor>(body: JacobianRequest<T>): Promise<JacobianResponse<T>>;
  /** POST /v1/softmax/vjp */
  softmaxVjp<T extends Tensor>(body: VjpRequest<T>): Promise<VjpResponse<T>>;
  /** POST /v1/gradients/output-layer */
  outputLayerGradients<T extends Tensor>(body: OutputLayerRequest<T>): Promise<OutputLayerResponse<T>>;
  /** POST /v1/gradients/network: backpropagation through dense layers. */
  networkGradients<T extends Tensor>(body: NetworkRequest<T>): Promise<NetworkResponse<T>>;
  /**
   * POST /v1/gradients/network/hessian-vector: H v (or the Gauss-Newton G v) for a direction v in parameter
   * space, with the gradients, by the R-operator.
   */
  networkHessianVector<T extends Tensor>(body: HessianVectorRequest<T>): Promise<HessianVectorResponse>;
  /**
   * POST /v1/gradients/check: your gradients (and, with a vector, products) against the service's (resolves
   * whether or not they agree).
   */
  checkGradients<T extends Tensor>(body: CheckRequest<T>): Promise<CheckResponse>;
  /** GET /v1/activations/{name}/plot.svg: the SVG text. */
  plotActivation(name: ActivationName, query?: PlotQuery): Promise<string>;
  /**
   * POST /v1/activations/{name}/forward with binary tensors both ways: no JSON text for the numbers (a
   * 1e6-number request is 8 MB instead of ~19 MB, and nothing to parse). Retried as the JSON methods are.
   */
  activationForwardBinary(
    name: ActivationName,
    body: { z: BinaryTensor; params?: Readonly<Record<string, number>> },
  ): Promise<{ a: BinaryTensor }>;
  /** POST /v1/activations/{name}/derivative with binary tensors both ways (z, or a, and optionally upstream). */
  activationDerivativeBinary(
    name: ActivationName,
    body: {
      z?: BinaryTensor;
      a?: BinaryTensor;
      upstream?: BinaryTensor;
      params?: Readonly<Record<string, number>>;
    },
  ): Promise<Record<string, BinaryTensor>>;
  /**
   * Any /v1 POST with binary tensors both ways: `tensors` are the body's tensor fields, `fields` its others;
   * resolves with the reply's tensor fields (and its other fields, as they came).
   */
  postBinary(
    path: string,
    tensors: Readonly<Record<string, BinaryTensor>>,
    fields?: Readonly<Record<string, unknown>>,
  ): Promise<Record<string, unknown>>;
  /** GET /healthz */
  healthz(): Promise<{ status: 'ok' }>;
  /** GET /readyz */
  readyz(): Promise<{ status: 'ready' }>;
  /** Closes the pooled connections. */
  close(): Promise<void>;
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

type ResponseBody = Awaited<ReturnType<Pool['request']>>['body'];

/**
 * At most `limit` bytes of a body, and whether more came. Stopping the iteration destroys the stream, so
 * undici drops the connection instead of reading the rest into the void.
 */
async function readAtMost(body: ResponseBody, limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      body.destroy();
      return { bytes: Buffer.concat(chunks), complete: false };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), complete: true };
}

/** A binary request body: a JSON header (the other fields and one input per tensor), then the float64 bytes. */
function encodeBinary(
  tensors: Readonly<Record<string, BinaryTensor>>,
  fields: Readonly<Record<string, unknown>>,
): { body: Buffer; headerLength: number } {
  const entries = Object.entries(tensors);
  const header = Buffer.from(
    JSON.stringify({
      ...fields,
      inputs: entries.map(([name, t]) => ({
        name,
        shape: [...t.shape],
        datatype: 'FP64',
        parameters: { binary_data_size: t.data.byteLength },
      })),
    }),
  );
  const body = Buffer.concat([
    header,
    ...entries.map(([, t]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
  return { body, headerLength: header.length };
}

/** A binary reply: its header's fields, with each output as a BinaryTensor (copied, so aligned). */
function decodeBinary(
  body: Buffer,
  headerLengthValue: string | string[] | undefined,
): Record<string, unknown> {
  const text = Array.isArray(headerLengthValue) ? headerLengthValue[0] : headerLengthValue;
  const headerLength = Number(text);
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length)
    throw new Error(`binary reply: bad ${headerLengthHeader} ${JSON.stringify(text)}`);
  const { outputs = [], ...rest } = JSON.parse(body.subarray(0, headerLength).toString('utf8')) as {
    outputs?: { name: string; shape: number[]; parameters?: { binary_data_size?: number } }[];
  };
  const result: Record<string, unknown> = { ...rest };
  let offset = headerLength;
  for (const output of outputs) {
    const size = output.parameters?.binary_data_size ?? 0;
    if (offset + size > body.length || size % 8 !== 0)
      throw new Error(`binary reply: output ${output.name} runs past the body (${size} bytes at ${offset})`);
    const data = new Float64Array(size / 8);
    new Uint8Array(data.buffer).set(body.subarray(offset, offset + size));
    result[output.name] = { data, shape: output.shape };
    offset += size;
  }
  return result;
}

const contentLength = (headers: Record<string, string | string[] | undefined>): number | undefined => {
  const value = headers['content-length'];
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
};

/** The problem in an error body (cut to errorBodyBytes), or one made from its status and text. */
function problemOf(
  status: number,
  text: string,
  complete: boolean,
  location?: string,
): Partial<ProblemDetails> {
  if (status < 400)
    return {
      title: `HTTP ${status} redirect`,
      detail: `The service answered with a redirect${location ? ` to ${location}` : ''}; the client does not follow redirects: set baseUrl to the service itself.`,
    };
  if (complete) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === 'object') return parsed as Partial<ProblemDetails>;
    } catch {
      // Not JSON (a proxy's HTML page, say): the text below.
    }
  }
  return { title: `HTTP ${status}`, detail: text.slice(0, 500) };
}

export function createClient(options: ClientOptions): GradientServiceClient {
  const url = new URL(options.baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const timeout = options.timeout ?? 30_000;
  const retries = options.retries ?? 2;
  const maxResponseBytes = options.maxResponseBytes ?? defaultMaxResponseBytes;
  const pool = new Pool(url.origin, { connections: options.connections ?? 8, keepAliveTimeout: 30_000 });
  const baseHeaders: Record<string, string> = {
    accept: 'application/json, application/problem+json',
    'user-agent': 'gradient-service-client/1.0.0',
    ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
  };

  /** What a call sends and how it reads a 2xx reply. */
  interface Exchange {
    readonly method: 'GET' | 'POST';
    readonly path: string;
    readonly body?: string | Buffer;
    readonly headers?: Record<string, string>;
    readonly read: (body: Buffer, headers: Record<string, string | string[] | undefined>) => unknown;
  }

  const retryInterrupted = options.retryInterrupted ?? true;

  async function exchange<T>(request: Exchange): Promise<T> {
    const { method } = request;
    const signal = AbortSignal.timeout(timeout);
    const deadline = Date.now() + timeout;
    for (let attempt = 0; ; attempt++) {
      const backoff = 100 * 2 ** attempt * (0.5 + Math.random() / 2);
      let response: Awaited<ReturnType<Pool['request']>>;
      try {
        response = await pool.request({
          method,
          path: prefix + request.path,
          headers: { ...baseHeaders, ...request.headers },
          body: request.body,
          signal,
        });
      } catch (error) {
        const code = errorCode(error);
        const retryable =
          !signal.aborted &&
          code !== undefined &&
          (notSentCodes.has(code) || ((method === 'GET' || retryInterrupted) && brokenCodes.has(code)));
        if (!retryable || attempt >= retries || Date.now() + backoff >= deadline) throw error;
        await sleep(backoff, signal);
        continue;
      }

      const { statusCode, headers } = response;
      if (statusCode < 300) {
        const announced = contentLength(headers);
        if (announced !== undefined && announced > maxResponseBytes) {
          response.body.destroy();
          throw new ResponseTooLargeError(maxResponseBytes, announced);
        }
        let read: { bytes: Buffer; complete: boolean };
        try {
          read = await readAtMost(response.body, maxResponseBytes);
        } catch (error) {
          // The answer broke off (the replica died while writing it): the work was done, but nothing came.
          const code = errorCode(error);
          const retryable =
            !signal.aborted &&
            code !== undefined &&
            brokenCodes.has(code) &&
            (method === 'GET' || retryInterrupted);
          if (!retryable || attempt >= retries || Date.now() + backoff >= deadline) throw error;
          await sleep(backoff, signal);
          continue;
        }
        if (!read.complete) throw new ResponseTooLargeError(maxResponseBytes, announced);
        return request.read(read.bytes, headers) as T;
      }
      const { bytes, complete } = await readAtMost(response.body, Math.min(errorBodyBytes, maxResponseBytes));
      const text = bytes.toString('utf8');
      const location = Array.isArray(headers.location) ? headers.location[0] : headers.location;
      const retryAfter = parseRetryAfter(headers['retry-after']);
      const error = new GradientServiceError(
        statusCode,
        problemOf(statusCode, text, complete, location),
        retryAfter,
      );
      const contentType = String(headers['content-type'] ?? '').toLowerCase();
      const fromService = contentType.startsWith('application/problem+json');
      const retryable =
        method === 'GET'
          ? [429, 502, 503, 504].includes(statusCode)
          : // The service's refusals before any work say so with Retry-After; a proxy's 502/503/504 may
            // hide a request that was lost with its replica.
            ([429, 503].includes(statusCode) && retryAfter !== undefined && fromService) ||
            (retryInterrupted && !fromService && [502, 503, 504].includes(statusCode));
      const delay = retryAfter !== undefined ? retryAfter * 1000 : backoff;
      if (!retryable || attempt >= retries || Date.now() + delay >= deadline) throw error;
      await sleep(delay, signal);
    }
  }

  const call = <T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    read: 'json' | 'text' = 'json',
  ): Promise<T> =>
    exchange<T>({
      method,
      path,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      read: (bytes) => (read === 'json' ? JSON.parse(bytes.toString('utf8')) : bytes.toString('utf8')),
    });

  const postBinary = (
    path: string,
    tensors: Readonly<Record<string, BinaryTensor>>,
    fields: Readonly<Record<string, unknown>> = {},
  ): Promise<Record<string, unknown>> => {
    const { body, headerLength } = encodeBinary(tensors, fields);
    return exchange({
      method: 'POST',
      path,
      body,
      headers: {
        'content-type': tensorMediaType,
        [headerLengthHeader]: String(headerLength),
        accept: `${tensorMediaType}, application/problem+json`,
      },
      read: (bytes, headers) => decodeBinary(bytes, headers[headerLengthHeader]),
    });
  };

  const named = (name: string) => encodeURIComponent(name);

  return {
    listActivations: () => call('GET', '/v1/activations', undefined),
    getActivation: (name) => call('GET', `/v1/activations/${named(name)}`, undefined),
    activationForward: (name, body) => call('POST', `/v1/activations/${named(name)}/forward`, body),
    activationDerivative: (name, body) => call('POST', `/v1/activations/${named(name)}/derivative`, body),
    activationSecondDerivative: (name, body) =>
      call('POST', `/v1/activations/${named(name)}/second-derivative`, body),
    activationJacobian: (name, body) => call('POST', `/v1/activations/${named(name)}/jacobian`, body),
    activationVjp: (name, body) => call('POST', `/v1/activations/${named(name)}/vjp`, body),
    softmaxJacobian: (body) => call('POST', '/v1/softmax/jacobian', body),
    softmaxVjp: (body) => call('POST', '/v1/softmax/vjp', body),
    outputLayerGradients: (body) => call('POST', '/v1/gradients/output-layer', body),
    networkGradients: (body) => call('POST', '/v1/gradients/network', body),
    networkHessianVector: (body) => call('POST', '/v1/gradients/network/hessian-vector', body),
    checkGradients: (body) => call('POST', '/v1/gradients/check', body),
    plotActivation: (name, query = {}) => {
      const search = new URLSearchParams();
      if (query.from !== undefined) search.set('from', String(query.from));
      if (query.to !== undefined) search.set('to', String(query.to));
      for (const [k, v] of Object.entries(query.params ?? {})) search.set(k, String(v));
      const qs = search.size ? `?${search}` : '';
      return call('GET', `/v1/activations/${named(name)}/plot.svg${qs}`, undefined, 'text');
    },
    activationForwardBinary: (name, { z, params }) =>
      postBinary(`/v1/activations/${named(name)}/forward`, { z }, params ? { params } : {}) as Promise<{
        a: BinaryTensor;
      }>,
    activationDerivativeBinary: (name, { params, ...tensors }) =>
      postBinary(
        `/v1/activations/${named(name)}/derivative`,
        Object.fromEntries(Object.entries(tensors).filter(([, t]) => t !== undefined)) as Record<
          string,
          BinaryTensor
        >,
        params ? { params } : {},
      ) as Promise<Record<string, BinaryTensor>>,
    postBinary,
    healthz: () => call('GET', '/healthz', undefined),
    readyz: () => call('GET', '/readyz', undefined),
    close: () => pool.close(),
  };
}
