/**
 * The documented error responses of every route, in one place for both surfaces: /v1 (and everything outside
 * /v2) answers application/problem+json with the shared Problem schema, /v2 the Open Inference Protocol's
 * `{ "error": "..." }` as application/json. A route's schema spreads one of the three sets into its
 * `response` map:
 *
 *     response: { 200: ForwardReply, ...computeErrorResponses('v1', { notFound: 'Unknown activation ...' }) }
 *
 * - computeErrorResponses: a POST that reads a body and computes (400, 401, 408, 413, 414, 415, 422, 429, 431,
 *   503, 504).
 * - readErrorResponses: a GET under /v1 or /v2 (key and rate limit apply, no body: 401, 408, 414, 429, 431,
 *   503).
 * - openErrorResponses: a route open to everyone (probes, docs: 408, 414, 431).
 *
 * test/routes/openapi-lint.test.ts checks that every /v1 and /v2 POST in the document has the compute set.
 */
import { STATUS_CODES } from 'node:http';
import { Type } from 'typebox';
import { type ErrorCode, problemTypePrefix } from '../errors.js';
import { tensorMediaType } from '../serialize/reply.js';

export type Surface = 'v1' | 'v2';

/** The statuses the helpers document; a route may word any of them its own way (`describe`). */
export type ErrorStatus = 400 | 401 | 404 | 408 | 413 | 414 | 415 | 422 | 429 | 431 | 503 | 504;

/** The /v2 error body (the protocol's $inference_error_response), a named component like Problem. */
export const InferenceErrorBody = Type.Object(
  { error: Type.String({ description: 'What went wrong, naming the field, tensor or size.' }) },
  { $id: 'InferenceErrorBody', description: "The Open Inference Protocol's error object." },
);

const reasons: Record<ErrorStatus, string> = {
  400: 'Invalid request: malformed JSON (with its position), an empty body, wrong types, ragged, empty or too deeply nested tensors, unknown fields or params, out-of-range params, shapes that do not agree.',
  401: 'API keys are configured on the server (API_KEYS) and the request has no valid `Authorization: Bearer <key>`; the WWW-Authenticate header carries the challenge. Never sent when API_KEYS is unset.',
  404: 'Unknown name in the path.',
  408: 'The request did not arrive in time: its headers within HEADERS_TIMEOUT_MS, or the whole request within REQUEST_TIMEOUT_MS. The connection is closed after this response.',
  413: 'The body is larger than BODY_LIMIT bytes, or a request or response tensor would hold more than MAX_ELEMENTS numbers.',
  414: 'The request line is longer than the 16 KiB the server reads of a request head, or a path segment is longer than 100 characters.',
  415: `The Content-Type is neither application/json nor, where the route takes binary tensors, ${tensorMediaType}.`,
  422: 'The result is not finite in float64 (overflow, or a log of a value <= 0); the message names the quantity.',
  429: 'More than RATE_LIMIT requests per minute from this client (per API key when keys are configured); retry after Retry-After seconds. Never sent when RATE_LIMIT is unset.',
  431: 'The request line and headers are larger than the server accepts (16 KiB, Node.js max header size).',
  503: 'Refused before any work: overloaded (event-loop delay or heap over MAX_EVENT_LOOP_DELAY_MS / MAX_HEAP_USED_BYTES, the worker pool queue full (OFFLOAD_MAX_QUEUE, OFFLOAD_MAX_QUEUE_BYTES), the body would take the requests in flight past MEMORY_BUDGET_BYTES) or shutting down: retry after Retry-After seconds, or on another instance.',
  504: 'The computation ran past OFFLOAD_TIMEOUT_MS and was stopped (type computation-timeout, no Retry-After): a repeat would take as long; send less per request.',
};

/** Where /v2 words a status differently (its inputs are named tensors with a datatype, FP32 included). */
const v2Reasons: Partial<Record<ErrorStatus, string>> = {
  400: 'Bad request: malformed JSON (with its position) or binary header, unknown datatype, shape vs data or binary size mismatch, unknown or missing input or output, unknown parameter.',
  413: 'The body is larger than BODY_LIMIT bytes, or a tensor would hold more than MAX_ELEMENTS elements.',
  415: 'The Content-Type is neither application/json nor application/octet-stream.',
  422: 'A result is not finite (in float64, or in FP32 when FP32 was requested); the message names the output.',
};

const retryAfter = {
  'retry-after': { type: 'integer', description: 'Seconds to wait before retrying.' },
};
const headers: Partial<Record<ErrorStatus, Record<string, { type: string; description: string }>>> = {
  401: {
    'www-authenticate': {
      type: 'string',
      description: 'Bearer realm="gradient-service" (with error="invalid_token" when a key was sent).',
    },
  },
  429: retryAfter,
  503: retryAfter,
};

/**
 * One real refusal per status, as the service words it (default limits, API_KEYS and RATE_LIMIT set), for the
 * examples of the error responses: the problem's code and detail on /v1, the message on /v2.
 */
const errorExamples: Record<ErrorStatus, { code: ErrorCode; v1: string; v2: string }> = {
  400: {
    code: 'invalid-request',
    v1: '/z/1: must be number (got a string)',
    v2: 'input "z": data[1] must be a finite number (got "x")',
  },
  401: {
    code: 'unauthorized',
    v1: 'This route needs an API key: send Authorization: Bearer <key>.',
    v2: 'This route needs an API key: send Authorization: Bearer <key>.',
  },
  404: {
    code: 'unknown-activation',
    v1: 'Unknown activation "sigmoidd". Known names and aliases: identity, linear, relu, sigmoid, tanh, softmax, ...',
    v2: 'unknown model "sigmoidd"; POST /v2/repository/index lists the models',
  },
  408: {
    code: 'request-timeout',
    v1: 'The request did not arrive in time: headers are allowed 10000 ms (HEADERS_TIMEOUT_MS), the whole request 30000 ms (REQUEST_TIMEOUT_MS).',
    v2: 'The request did not arrive in time: headers are allowed 10000 ms (HEADERS_TIMEOUT_MS), the whole request 30000 ms (REQUEST_TIMEOUT_MS).',
  },
  413: {
    code: 'too-many-elements',
    v1: 'z has more than 1000000 numbers; at most 1000000 are allowed per tensor (MAX_ELEMENTS).',
    v2: 'input "z" has 1000001 numbers; at most 1000000 are allowed per tensor (MAX_ELEMENTS).',
  },
  414: {
    code: 'uri-too-long',
    v1: 'The request line is longer than the 16384 bytes the server reads of a request head.',
    v2: 'The request line is longer than the 16384 bytes the server reads of a request head.',
  },
  415: {
    code: 'unsupported-media-type',
    v1: `Content-Type "text/plain" is not supported: send application/json or ${tensorMediaType} (binary tensors).`,
    v2: 'Content-Type "text/plain" is not supported: send application/json or application/octet-stream.',
  },
  422: {
    code: 'non-finite-result',
    v1: 'loss: loss is not finite for this input (overflow or a log of a non-positive value)',
    v2: 'a: output a[0] = 1e+300 overflows FP32; ask for FP64 instead',
  },
  429: {
    code: 'rate-limited',
    v1: 'More than 600 requests per minute (RATE_LIMIT) from this client; retry in 12 seconds.',
    v2: 'More than 600 requests per minute (RATE_LIMIT) from this client; retry in 12 seconds.',
  },
  431: {
    code: 'headers-too-large',
    v1: 'The request line and headers are longer than 16384 bytes together.',
    v2: 'The request line and headers are longer than 16384 bytes together.',
  },
  503: {
    code: 'not-ready',
    v1: 'Overloaded (event-loop delay 1204 ms > MAX_EVENT_LOOP_DELAY_MS 1000); retry later.',
    v2: 'Overloaded (event-loop delay 1204 ms > MAX_EVENT_LOOP_DELAY_MS 1000); retry later.',
  },
  504: {
    code: 'computation-timeout',
    v1: "The request's computation did not finish within 30000 ms (OFFLOAD_TIMEOUT_MS, running) and was stopped; a repeat would take as long: send less per request.",
    v2: "The request's computation did not finish within 30000 ms (OFFLOAD_TIMEOUT_MS, running) and was stopped; a repeat would take as long: send less per request.",
  },
};

/** The example body of `status` on `surface`. */
export function errorExample(surface: Surface, status: ErrorStatus): Record<string, unknown> {
  const { code, v1, v2 } = errorExamples[status];
  if (surface === 'v2') return { error: v2 };
  return {
    type: problemTypePrefix + code,
    title: STATUS_CODES[status],
    status,
    detail: v1,
    instance: '/v1/activations/sigmoid/forward',
    requestId: '6f1c2a9e-3b4d-4e5f-8a6b-000000000001',
  };
}

/** One error response: the surface's body (Problem or `{error}`) with an example, and the status's headers. */
function errorResponse(surface: Surface, status: ErrorStatus, description: string, withHeaders = true) {
  return {
    description,
    ...(withHeaders && headers[status] ? { headers: headers[status] } : {}),
    content:
      surface === 'v1'
        ? {
            'application/problem+json': {
              schema: Type.Ref('Problem'),
              example: errorExample(surface, status),
            },
          }
        : {
            'application/json': {
              schema: Type.Ref('InferenceErrorBody'),
              example: errorExample(surface, status),
            },
          },
  };
}

export interface ErrorResponseOptions {
  /** The path names something (an activation, a model): an unknown one is a 404 described by this text. */
  readonly notFound?: string;
  /** The route's own wording for a status, where it can say more (which sizes must agree, ...). */
  readonly describe?: Partial<Record<ErrorStatus, string>>;
  /**
   * Statuses beyond the set, with their wording and without the set's headers (a GET whose query can be a
   * 400, a probe's 503).
   */
  readonly add?: Partial<Record<ErrorStatus, string>>;
  /** Leave out 422 (a route whose result is always finite). */
  readonly alwaysFinite?: boolean;
}

type ErrorResponses = Record<string, ReturnType<typeof errorResponse>>;

function responsesFor(
  surface: Surface,
  statuses: readonly ErrorStatus[],
  options: ErrorResponseOptions,
): ErrorResponses {
  const added = Object.keys(options.add ?? {}).map(Number) as ErrorStatus[];
  const wanted = new Set([...statuses, ...added, ...(options.notFound === undefined ? [] : [404 as const])]);
  const text = (status: ErrorStatus) =>
    options.add?.[status] ??
    options.describe?.[status] ??
    (status === 404 ? options.notFound : undefined) ??
    (surface === 'v2' ? v2Reasons[status] : undefined) ??
    reasons[status];
  return Object.fromEntries(
    [...wanted]
      .sort((a, b) => a - b)
      .map((status) => [
        status,
        // An added status is the route's own case (a probe's 503 has no Retry-After).
        errorResponse(surface, status, text(status), options.add?.[status] === undefined),
      ]),
  );
}

/** The errors of a POST that reads a body and computes: 400, 401, 408, 413, 414, 415, 422, 429, 431, 503, 504 (+404). */
export function computeErrorResponses(surface: Surface, options: ErrorResponseOptions = {}): ErrorResponses {
  const statuses: ErrorStatus[] = [400, 401, 408, 413, 414, 415, 422, 429, 431, 503, 504];
  return responsesFor(surface, options.alwaysFinite ? statuses.filter((s) => s !== 422) : statuses, options);
}

/** The errors of a GET under /v1 or /v2, where a key and the rate limit apply: 401, 408, 414, 429, 431, 503 (+404). */
export function readErrorResponses(surface: Surface, options: ErrorResponseOptions = {}): ErrorResponses {
  return responsesFor(surface, [401, 408, 414, 429, 431, 503], options);
}

/** The errors of a route open to everyone (probes, docs): 408, 414 and 431, which any request can meet. */
export function openErrorResponses(surface: Surface, options: ErrorResponseOptions = {}): ErrorResponses {
  return responsesFor(surface, [408, 414, 431], options);
}
