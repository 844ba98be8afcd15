/**
 * Every error the service answers with, as classes with stable codes (as undici's lib/core/errors.js): code
 * and status are fixed per class, the message says what went wrong with this request. The HTTP layer
 * classifies any thrown value into a ServiceError once (classifyError in plugins/problem.ts) and renders it
 * twice: problem+json (/v1 and everything outside /v2, `type` = problemTypePrefix + code) and the Open
 * Inference Protocol's `{ "error": message }` under /v2. Nothing here imports from the rest of the project,
 * so core, operations, schemas and plugins can all use it.
 */

/** The `type` of a problem+json body is this prefix plus the error's stable code. */
export const problemTypePrefix = 'urn:gradient-service:problem:';

/** The stable codes, each with its meaning (documented on the Problem schema). */
export const errorCodes = {
  'invalid-request': 'The body or a parameter does not match the schema (see errors).',
  'malformed-json': 'The body is not valid JSON, or is empty (the detail says where and what was expected).',
  'structure-limit':
    'The JSON nests deeper, has more arrays and objects, more keys or longer strings than the parsing limits, or a tensor shape has more dimensions than allowed (the detail names the limit).',
  'unsupported-media-type':
    'The body is neither application/json nor a binary tensor media type the route reads.',
  'unsupported-content-encoding':
    'The body has a Content-Encoding the service does not decode (it decodes gzip, deflate and br).',
  'malformed-encoding':
    'The body is not valid data of its Content-Encoding (a corrupt or truncated gzip, deflate or br stream).',
  'payload-too-large':
    'The body is larger than BODY_LIMIT bytes (once decoded, if it has a Content-Encoding).',
  'too-many-elements': 'A request or response tensor would hold more than MAX_ELEMENTS numbers.',
  'shape-mismatch': 'Tensors whose sizes must agree do not (the detail names both sizes).',
  'unknown-activation': 'No activation has that name or alias (the detail lists the known names).',
  'unknown-model':
    'No /v2 model (or model version) has that name (POST /v2/repository/index lists the models).',
  'derivative-from-output-unsupported': "This activation's derivative cannot be computed from a alone.",
  'vector-activation':
    'softmax and log_softmax are not elementwise: use their /jacobian or /vjp routes, not /derivative.',
  'elementwise-activation':
    'An elementwise activation has a diagonal Jacobian: use its /derivative route, not /jacobian or /vjp.',
  'non-finite-result': 'The result is not finite in float64 (overflow, or a log of a value <= 0).',
  'not-found': 'No route has this path (paths have no trailing slash: /healthz, not /healthz/).',
  'method-not-allowed': 'The path exists, but not with this method (see the Allow header).',
  'bad-url': 'The path is not valid percent-encoding (such as %E0%A4%A).',
  'uri-too-long':
    'The request line is longer than the 16 KiB the server reads of a request head, or a path segment is longer than 100 characters.',
  'headers-too-large': 'The request line and headers together are longer than 16 KiB.',
  'malformed-request':
    'The request is not valid HTTP/1.1 (such as Content-Length together with Transfer-Encoding, or a bad request line).',
  'expectation-failed': 'The Expect header asks for something other than 100-continue.',
  'request-timeout':
    'The request did not arrive in time: its headers within HEADERS_TIMEOUT_MS, the whole request within REQUEST_TIMEOUT_MS.',
  'not-ready':
    'The service is shutting down or overloaded, or the request would take it past its memory budget; refused before any work: retry elsewhere or later (see Retry-After).',
  'computation-timeout':
    'The computation ran past OFFLOAD_TIMEOUT_MS and was stopped. Not a refusal: the same request would take as long again, so it carries no Retry-After and the client does not repeat it (send less per request, or raise OFFLOAD_TIMEOUT_MS).',
  unauthorized: 'API keys are configured and the request has no valid Authorization: Bearer <key>.',
  'rate-limited':
    'More requests than RATE_LIMIT per minute from this client; retry after Retry-After seconds.',
  'internal-error': 'A bug: the service failed on this request. Report it with the requestId.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface ValidationIssue {
  /** JSON pointer into the request body (or into the path parameters, for those). */
  readonly path: string;
  readonly message: string;
}

/** The base class: an HTTP status, a stable code, a message for the client, optional pointers and headers. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: readonly ValidationIssue[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(detail);
    this.name = 'ServiceError';
  }
}

/** 400: the request is well-formed but a value in it is not acceptable; `errors` points at each. */
export class InvalidRequestError extends ServiceError {
  constructor(errors: readonly ValidationIssue[], detail?: string) {
    const first = errors[0];
    super(
      400,
      'invalid-request',
      detail ?? (first ? `${first.path || '(body)'}: ${first.message}` : 'invalid request'),
      errors,
    );
    this.name = 'InvalidRequestError';
  }
}

/** 400 pointing at one field, with the message as the detail. */
export const invalidField = (path: string, message: string, detail?: string): InvalidRequestError =>
  new InvalidRequestError([{ path, message }], detail);

export class MalformedJsonError extends ServiceError {
  constructor(detail: string, errors?: readonly ValidationIssue[]) {
    super(400, 'malformed-json', detail, errors);
    this.name = 'MalformedJsonError';
  }
}

/** 400: a body beyond a parsing limit (src/codec/bounded-json.ts jsonLimits), refused before it was built. */
export class StructureLimitError extends ServiceError {
  constructor(detail: string) {
    super(400, 'structure-limit', detail);
    this.name = 'StructureLimitError';
  }
}

/** 415, with one text on every surface: the Content-Type received and the ones the route reads. */
export class UnsupportedMediaTypeError extends ServiceError {
  constructor(contentType: string, accepted: readonly string[]) {
    super(
      415,
      'unsupported-media-type',
      `Content-Type ${JSON.stringify(contentType)} is not supported: send ${accepted.join(' or ')}.`,
    );
    this.name = 'UnsupportedMediaTypeError';
  }
}

/** 415: a Content-Encoding outside the ones the service decodes, with those named. */
export class UnsupportedContentEncodingError extends ServiceError {
  constructor(coding: string, supported: readonly string[]) {
    super(
      415,
      'unsupported-content-encoding',
      `Content-Encoding ${JSON.stringify(coding)} is not supported: send ${supported.join(', ')} or no Content-Encoding.`,
    );
    this.name = 'UnsupportedContentEncodingError';
  }
}

/** 400: the body does not decode with its Content-Encoding. */
export class MalformedEncodingError extends ServiceError {
  constructor(detail: string) {
    super(400, 'malformed-encoding', detail);
    this.name = 'MalformedEncodingError';
  }
}

export class PayloadTooLargeError extends ServiceError {
  constructor(detail: string) {
    super(413, 'payload-too-large', detail);
    this.name = 'PayloadTooLargeError';
  }
}

/** 413 for a request or result tensor beyond MAX_ELEMENTS, checked before any work. */
export class TooManyElementsError extends ServiceError {
  /** count undefined: more than the limit, refused before they were all counted (a body's array while parsing). */
  constructor(what: string, count: number | undefined, limit: number) {
    super(
      413,
      'too-many-elements',
      `${what} has ${count ?? `more than ${limit}`} numbers; at most ${limit} are allowed per tensor (MAX_ELEMENTS).`,
    );
    this.name = 'TooManyElementsError';
  }
}

/** 404 for a name the path gives that is not in a table (an activation, a /v2 model). */
export class UnknownNameError extends ServiceError {
  constructor(code: 'unknown-activation' | 'unknown-model', detail: string) {
    super(404, code, detail);
    this.name = 'UnknownNameError';
  }
}

/** 400: the operation does not apply to this kind of activation (the detail says which route does). */
export class WrongActivationKindError extends ServiceError {
  constructor(code: 'vector-activation' | 'elementwise-activation', detail: string) {
    super(400, code, detail);
    this.name = 'WrongActivationKindError';
  }
}

export class DerivativeFromOutputUnsupportedError extends ServiceError {
  constructor(message: string) {
    super(400, 'derivative-from-output-unsupported', `${message}.`, [{ path: '/a', message }]);
    this.name = 'DerivativeFromOutputUnsupportedError';
  }
}

/** 422: inputs that are well-formed but have no finite answer; `quantity` is the contract's name for it. */
export class NonFiniteResultError extends ServiceError {
  constructor(
    /** The quantity that is not finite: 'a', 'derivative', 'loss', 'weightGradient', ... */
    readonly quantity: string,
    message?: string,
  ) {
    const text =
      message ?? `${quantity} is not finite for this input (overflow or a log of a non-positive value)`;
    super(422, 'non-finite-result', `${quantity}: ${text}`);
    this.name = 'NonFiniteResultError';
  }
}

export class InternalError extends ServiceError {
  constructor() {
    super(500, 'internal-error', 'Internal error; the requestId identifies it in the logs.');
    this.name = 'InternalError';
  }
}

/**
 * A ServiceError as plain data, to cross from a worker thread (an Error loses its class there), and back.
 */
export interface ServiceErrorRecord {
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly errors?: readonly ValidationIssue[];
}

export const toRecord = (error: ServiceError): ServiceErrorRecord => ({
  status: error.status,
  code: error.code,
  detail: error.detail,
  ...(error.errors ? { errors: error.errors } : {}),
});

export const fromRecord = (record: ServiceErrorRecord): ServiceError =>
  new ServiceError(record.status, record.code, record.detail, record.errors);
