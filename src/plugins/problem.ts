/**
 * The error layer of the app: classifyError turns anything thrown (a ServiceError from src/errors.ts, a
 * Fastify or Ajv error, a codec error) into one ServiceError, once; sendProblem renders it as RFC 9457
 * problem details (/v1 and everything outside /v2; routes/v2.ts renders the same classification as the
 * protocol's { error }). Nothing here knows about activations or tensors beyond the shape of the Tensor
 * schema (see describeValidation).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { BinaryTensorError } from '../codec/binary-tensor.js';
import { JsonParseError } from '../codec/bounded-json.js';
import { ShapeError } from '../core/tensor.js';
import { boundedIssues, clipText, errorBodyBudget } from '../error-size.js';
import {
  InternalError,
  InvalidRequestError,
  MalformedJsonError,
  PayloadTooLargeError,
  problemTypePrefix,
  ServiceError,
  StructureLimitError,
  UnsupportedMediaTypeError,
  type ValidationIssue,
} from '../errors.js';
import { tensorMediaType } from '../serialize/reply.js';

const nonFiniteMessage =
  'must be a finite number: float64 reaches ±1.7976931348623157e308, and a literal beyond it (such as 1e400) overflows to Infinity';

/** Re-raises a ShapeError of the tensor at `field` as a 400 pointing into the request. */
export function shapeProblem(field: string, error: ShapeError): ServiceError {
  const message = error.message === 'must be a finite number' ? nonFiniteMessage : error.message;
  return new InvalidRequestError([{ path: `/${field}${error.pointer}`, message }]);
}

interface AjvIssue {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Value at a JSON pointer, or undefined. */
function at(data: unknown, pointer: string): unknown {
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const typeNames = (value: unknown): string =>
  value === undefined
    ? 'nothing'
    : value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : typeof value === 'object'
          ? 'an object'
          : `a ${typeof value}`;

const tensorMessage =
  'must be a tensor: a non-empty array of numbers, or a non-empty array of equal-length non-empty arrays of numbers';

/**
 * Turns Ajv's errors into [{ path, message }]. The only anyOf in our schemas is the Tensor
 * (branch 0: a vector, branch 1: a batch); Ajv reports the failures of both branches, so we keep
 * those of the branch the data was evidently meant for (a batch when its first element is an array).
 */
export function describeValidation(
  issues: readonly AjvIssue[],
  data: unknown,
  allowedFields?: readonly string[],
): ValidationIssue[] {
  const anyOfPaths = issues.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  const out: ValidationIssue[] = [];
  for (const e of issues) {
    const owner = anyOfPaths.find((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    const value = at(data, e.instancePath);
    if (e.keyword === 'anyOf') {
      if (out.some((o) => o.path === e.instancePath || o.path.startsWith(`${e.instancePath}/`))) continue;
      out.push({
        path: e.instancePath,
        message: `${tensorMessage} (got ${typeNames(value)})`,
      });
      continue;
    }
    if (owner !== undefined && e.instancePath === owner && e.keyword === 'type') {
      out.push({ path: owner, message: `${tensorMessage} (got ${typeNames(value)})` });
      continue;
    }
    if (owner !== undefined) {
      const branch = /\/anyOf\/(\d+)\//.exec(e.schemaPath)?.[1];
      const intended = Array.isArray(at(data, `${owner}/0`)) ? '1' : '0';
      if (branch !== undefined && branch !== intended) continue;
    }
    out.push(describeIssue(e, value, allowedFields));
  }
  // One message per path is enough; Ajv can report a path twice through the two tensor branches.
  return out.filter((issue, i) => out.findIndex((o) => o.path === issue.path) === i);
}

function describeIssue(e: AjvIssue, value: unknown, allowedFields?: readonly string[]): ValidationIssue {
  switch (e.keyword) {
    case 'required':
      return { path: `${e.instancePath}/${e.params.missingProperty}`, message: 'is required' };
    case 'additionalProperties': {
      const allowed =
        e.instancePath === '' && allowedFields?.length ? ` (allowed: ${allowedFields.join(', ')})` : '';
      return {
        path: `${e.instancePath}/${e.params.additionalProperty}`,
        message: `is not a known field${allowed}`,
      };
    }
    case 'enum':
      return {
        path: e.instancePath,
        message: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`,
      };
    case 'type':
      // JSON.parse turns literals beyond ±1.8e308 (1e400) into Infinity, which Ajv's number type refuses.
      if (typeof value === 'number' && !Number.isFinite(value))
        return { path: e.instancePath, message: nonFiniteMessage };
      if (e.params.type === 'number' && Array.isArray(value))
        return {
          path: e.instancePath,
          message: 'must be a number, not an array (a tensor nests at most two levels: [K] or [N][K])',
        };
      return { path: e.instancePath, message: `must be ${e.params.type} (got ${typeNames(value)})` };
    case 'minItems':
      return {
        path: e.instancePath,
        message: e.params.limit === 1 ? 'must not be empty' : (e.message ?? 'has too few items'),
      };
    default:
      return { path: e.instancePath, message: e.message ?? `fails ${e.keyword}` };
  }
}

/** An RFC 9457 problem as this service sends it (the tests read bodies with this type too). */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  errors?: readonly ValidationIssue[];
  /** How many errors were found beyond those listed (src/plugins/error-size.ts). */
  errorsOmitted?: number;
}

/**
 * A JSON body the bounded parser refused: malformed, beyond a limit, or with a forbidden key. (A binary
 * body's JSON header arrives as a BinaryTensorError, with the same words.)
 */
export function jsonProblem(error: JsonParseError): ServiceError {
  if (error.kind === 'syntax') return new MalformedJsonError(`The body is not valid JSON: ${error.message}.`);
  if (error.kind === 'limit')
    return new StructureLimitError(`The body is beyond a parsing limit: ${error.message}.`);
  return new InvalidRequestError(
    [{ path: '', message: error.message }],
    `The body is refused: ${error.message}.`,
  );
}

/** The media types a route reads: its content-type parsers (the /v2 plugin has its own). */
const acceptedMediaTypes = (request: FastifyRequest): string[] =>
  isV2Path(pathOf(request.url))
    ? ['application/json', 'application/octet-stream']
    : ['application/json', `${tensorMediaType} (binary tensors)`];

/** Any thrown value as the one ServiceError it means: the classification both renderers share. */
export function classifyError(error: unknown, request: FastifyRequest): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof ShapeError)
    return new InvalidRequestError([{ path: error.pointer, message: error.message }]);
  if (error instanceof JsonParseError) return jsonProblem(error);
  if (error instanceof BinaryTensorError) {
    if (error.status === 413) return new PayloadTooLargeError(error.message);
    const detail = error.message.charAt(0).toUpperCase() + error.message.slice(1);
    if (error.reason === 'not-json') return new MalformedJsonError(detail);
    if (error.reason === 'limit') return new StructureLimitError(detail);
    return new InvalidRequestError([{ path: '', message: error.message }], error.message);
  }

  const fe = error as FastifyError & { validation?: AjvIssue[] };
  if (fe.validation) {
    const context = fe.validationContext ?? 'body';
    const data = context === 'body' ? request.body : context === 'params' ? request.params : request.query;
    const schema = request.routeOptions.schema?.[context === 'querystring' ? 'querystring' : context] as
      | { properties?: Record<string, unknown> }
      | undefined;
    const fields = schema?.properties ? Object.keys(schema.properties) : undefined;
    const errors = describeValidation(fe.validation, data, fields);
    if (context === 'body' && data === undefined)
      return new MalformedJsonError('The body is missing: send a JSON object.', errors);
    const where = context === 'body' ? '' : `${context} `;
    const first = errors[0];
    return new InvalidRequestError(
      errors,
      first ? `${where}${first.path || '(body)'}: ${first.message}` : undefined,
    );
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(
        request.headers['content-type'] ?? '',
        acceptedMediaTypes(request),
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MalformedJsonError('The body is empty: send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new MalformedJsonError('The body is not valid JSON.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(
        `The body is larger than the limit of ${request.routeOptions.bodyLimit} bytes (BODY_LIMIT).`,
      );
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Other client errors Fastify raises (bad content-length, prototype poisoning, ...).
    if (error instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      return new MalformedJsonError(`The body could not be read: ${fe.message}`);
    return new ServiceError(status, 'invalid-request', fe.message);
  }
  return new InternalError();
}

/** Logs a classified error: a 5xx with its stack, a refusal as one info line. */
/**
 * 5xx answers that are the service working as designed (a refusal before any work, a computation stopped at
 * its timeout): logged at warn without a stack. They come in bursts exactly when the service is busiest, and
 * an error with a stack per refusal buried the real failures and cost CPU.
 */
const expectedServerErrors = new Set<string>(['not-ready', 'computation-timeout']);

export function logError(request: FastifyRequest, error: unknown, classified: ServiceError): void {
  if (expectedServerErrors.has(classified.code))
    request.log.warn({ problem: classified.code, detail: classified.detail }, 'request refused');
  else if (classified.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ problem: classified.code, detail: classified.detail }, 'request rejected');
}

/** The /v2 surface (Open Inference Protocol) answers errors as `{ error }`; every other path as problem+json. */
export const isV2Path = (path: string): boolean => path === '/v2' || path.startsWith('/v2/');

// An absolute-form target (RFC 9112, 3.2.2: `GET http://host/v2/models HTTP/1.1`, what a client sends to a proxy)
// is routed by its path (find-my-way drops an http or https scheme and the authority), so its errors take that
// path's surface too.
const absoluteFormPrefix = /^https?:\/\/[^/?#]+/i;

/**
 * The path of a request target as the router takes it: up to a '?' or a '#' (a fragment has no place in a
 * request line, but find-my-way ends the path there too); of an absolute-form target, the path after the
 * authority.
 */
export const pathOf = (url: string): string => {
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  if (path.charCodeAt(0) === 0x2f) return path; // '/': origin-form, every ordinary request
  const prefix = absoluteFormPrefix.exec(path);
  return prefix === null ? path : path.slice(prefix[0].length) || '/';
};

// A path echoed in an error can be 16 KiB long (all that node reads of a request head): echo its start only,
// so that every error body stays small.
const maxEchoedPath = 256;
export const shownPath = (path: string): string =>
  path.length <= maxEchoedPath ? path : `${path.slice(0, maxEchoedPath)}\u2026 (${path.length} characters)`;

/**
 * The problem+json body of `problem` for the request at `path` (`instance`), with its request id. Whatever
 * the error holds, the body stays under maxErrorBodyBytes (src/error-size.ts): text that may echo the client
 * is clipped, and only the first errors are listed, with a count of the rest.
 */
function problemBody(problem: ServiceError, path: string, requestId: string): ProblemBody {
  const body: ProblemBody = {
    type: problemTypePrefix + problem.code,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: clipText(problem.detail, errorBodyBudget.detail),
    instance: clipText(path, errorBodyBudget.instance),
    requestId,
  };
  if (problem.errors) {
    const { errors, omitted } = boundedIssues(problem.errors);
    body.errors = errors;
    if (omitted > 0) body.errorsOmitted = omitted;
  }
  return body;
}

/** The { error } body of the Open Inference Protocol (/v2), its message clipped like a problem's detail. */
const inferenceErrorBody = (error: ServiceError) => ({
  error: clipText(error.detail, errorBodyBudget.v2Message),
});

/** The problem+json renderer. */
export function sendProblem(reply: FastifyReply, problem: ServiceError): FastifyReply {
  if (problem.headers) reply.headers(problem.headers);
  return reply
    .code(problem.status)
    .type('application/problem+json; charset=utf-8')
    .send(problemBody(problem, pathOf(reply.request.url), reply.request.id));
}

/** The /v2 renderer: the protocol's { error }. */
export function sendInferenceError(reply: FastifyReply, error: ServiceError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  return reply.code(error.status).type('application/json; charset=utf-8').send(inferenceErrorBody(error));
}

/** Sends `error` in the shape of the request's surface: for answers decided before a route (routing, bad URLs). */
export const sendSurfaceError = (reply: FastifyReply, error: ServiceError): FastifyReply =>
  isV2Path(pathOf(reply.request.url)) ? sendInferenceError(reply, error) : sendProblem(reply, error);

/**
 * The body and media type of `error` on the surface `path` belongs to, for an answer written on the raw
 * socket (malformed HTTP, the request timeout). Without a path (the request line never arrived whole),
 * `instance` names the occurrence by its id.
 */
export function renderError(
  error: ServiceError,
  path: string | undefined,
  requestId: string,
): { contentType: string; body: string } {
  if (path !== undefined && isV2Path(path))
    return {
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify(inferenceErrorBody(error)),
    };
  return {
    contentType: 'application/problem+json; charset=utf-8',
    body: JSON.stringify(problemBody(error, path ?? `urn:uuid:${requestId}`, requestId)),
  };
}

/** The routes of the app as [method, path regex], for telling 405 from 404. */
function routeMatcher(app: FastifyInstance) {
  const routes: { methods: string[]; pattern: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    const source = route.url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    routes.push({ methods, pattern: new RegExp(`^${source}$`) });
  });
  return (path: string) =>
    [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
}

export default fp(
  async (app: FastifyInstance) => {
    const allowedMethods = routeMatcher(app);

    // Errors on the surface of their path: the /v2 plugin has its own handler, so this one sees /v2 paths only
    // for requests no route matched (a 401 to /v2/nope), and answers those as { error } too.
    app.setErrorHandler((error, request, reply) => {
      const problem = classifyError(error, request);
      logError(request, error, problem);
      return sendSurfaceError(reply, problem);
    });

    // One answer for unmatched requests on both surfaces (a 405 names the allowed methods on /v2 too). A
    // trailing slash is a different path: /healthz/ is a 404 that names /healthz, not a 405 (README, Errors).
    const answerUnmatched = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const path = pathOf(request.url);
      const allow = allowedMethods(path);
      if (allow.length)
        return sendSurfaceError(
          reply,
          new ServiceError(
            405,
            'method-not-allowed',
            `${request.method} is not allowed on ${shownPath(path)}; allowed: ${allow.join(', ')}.`,
            undefined,
            { allow: allow.join(', ') },
          ),
        );
      const withoutSlash = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : undefined;
      const hint =
        withoutSlash !== undefined && allowedMethods(withoutSlash).length
          ? ` Paths have no trailing slash: ${shownPath(withoutSlash)} exists.`
          : '';
      return sendSurfaceError(
        reply,
        new ServiceError(404, 'not-found', `No route ${request.method} ${shownPath(path)}.${hint}`),
      );
    };

    // The 404 route parses bodies like any route: an empty JSON body to PUT /nope would be a 400, and a 30 MB
    // one would be read whole before its 404. So unmatched requests are answered in a preParsing hook of the
    // 404 route, before the body (linger.ts discards what follows). The hook sits in a child context to apply
    // to the 404 route alone; preParsing, not onRequest, so that every onRequest hook (auth's 401) comes first.
    await app.register(async (unmatched) => {
      unmatched.addHook('preParsing', (request, reply) => {
        answerUnmatched(request, reply);
      });
      unmatched.setNotFoundHandler(answerUnmatched);
    });
  },
  { name: 'problem' },
);
