/**
 * RFC 9457 problem details for every 4xx and 5xx: one error handler, one not-found handler, and
 * HttpProblem, which routes throw. Nothing here knows about activations or tensors beyond the shape
 * of the Tensor schema (see describeValidation).
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { JsonParseError } from '../codec/bounded-json.js';
import { NonFiniteResultError } from '../core/errors.js';
import { ShapeError } from '../core/tensor.js';
import { tensorMediaType } from '../serialize/reply.js';

/** The `type` of every problem is this prefix plus a slug; the list is documented on the Problem schema. */
export const problemTypePrefix = 'urn:gradient-service:problem:';

export const problemTypes = {
  'invalid-request': 'The body or a parameter does not match the schema (see errors).',
  'malformed-json': 'The body is not valid JSON, or is empty (the detail says where and what was expected).',
  'structure-limit':
    'The JSON nests deeper, has more keys or longer strings than the parsing limits, or a tensor shape has more dimensions than allowed (the detail names the limit).',
  'unsupported-media-type': 'The body is neither application/json nor the binary tensor media type.',
  'payload-too-large': 'The body is larger than BODY_LIMIT bytes.',
  'too-many-elements': 'A request or response tensor would hold more than MAX_ELEMENTS numbers.',
  'shape-mismatch': 'Tensors whose sizes must agree do not (the detail names both sizes).',
  'unknown-activation': 'No activation has that name or alias (the detail lists the known names).',
  'derivative-from-output-unsupported': "This activation's derivative cannot be computed from a alone.",
  'vector-activation': 'softmax and log_softmax are not elementwise: use the /v1/softmax routes.',
  'non-finite-result': 'The result is not finite in float64 (overflow, or a log of a value <= 0).',
  'not-found': 'No route has this path.',
  'method-not-allowed': 'The path exists, but not with this method (see the Allow header).',
  'not-ready': 'The service is shutting down or overloaded; retry elsewhere or later (see Retry-After).',
  unauthorized: 'API keys are configured and the request has no valid Authorization: Bearer <key>.',
  'rate-limited':
    'More requests than RATE_LIMIT per minute from this client; retry after Retry-After seconds.',
  'internal-error': 'A bug: the service failed on this request. Report it with the requestId.',
} as const;

export type ProblemType = keyof typeof problemTypes;

export interface ValidationIssue {
  /** JSON pointer into the request body (or into the path parameters, for those). */
  readonly path: string;
  readonly message: string;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: ProblemType,
    readonly detail: string,
    readonly errors?: readonly ValidationIssue[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

/** A 400 for validation failures found after the schema (by core or by a route), with pointers. */
export function invalid(errors: readonly ValidationIssue[], detail?: string): HttpProblem {
  const first = errors[0];
  const summary = detail ?? (first ? `${first.path || '(body)'}: ${first.message}` : 'invalid request');
  return new HttpProblem(400, 'invalid-request', summary, errors);
}

const nonFiniteMessage =
  'must be a finite number: float64 reaches ±1.7976931348623157e308, and a literal beyond it (such as 1e400) overflows to Infinity';

/** Re-raises a ShapeError of the tensor at `field` as a 400 pointing into the request. */
export function shapeProblem(field: string, error: ShapeError): HttpProblem {
  const message = error.message === 'must be a finite number' ? nonFiniteMessage : error.message;
  return invalid([{ path: `/${field}${error.pointer}`, message }]);
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

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  errors?: readonly ValidationIssue[];
}

/** A body the bounded JSON parser refused: malformed, beyond a limit, or with a forbidden key. */
export function jsonProblem(error: JsonParseError, request: FastifyRequest): HttpProblem {
  const what = request.headers['content-type']?.toLowerCase().startsWith(tensorMediaType)
    ? "The body's JSON header"
    : 'The body';
  if (error.kind === 'syntax')
    return new HttpProblem(400, 'malformed-json', `${what} is not valid JSON: ${error.message}.`);
  if (error.kind === 'limit')
    return new HttpProblem(400, 'structure-limit', `${what} is beyond a parsing limit: ${error.message}.`);
  return invalid([{ path: '', message: error.message }], `${what} is refused: ${error.message}.`);
}

function toProblem(error: unknown, request: FastifyRequest): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof JsonParseError) return jsonProblem(error, request);
  if (error instanceof NonFiniteResultError)
    return new HttpProblem(422, 'non-finite-result', `${error.quantity}: ${error.message}`);
  if (error instanceof ShapeError) return invalid([{ path: error.pointer, message: error.message }]);

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
      return new HttpProblem(400, 'malformed-json', 'The body is missing: send a JSON object.', errors);
    const where = context === 'body' ? '' : `${context} `;
    const first = errors[0];
    return invalid(errors, first ? `${where}${first.path || '(body)'}: ${first.message}` : undefined);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpProblem(
        415,
        'unsupported-media-type',
        `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported: send application/json (or ${tensorMediaType} for binary tensors).`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpProblem(400, 'malformed-json', 'The body is empty: send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpProblem(400, 'malformed-json', 'The body is not valid JSON.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpProblem(
        413,
        'payload-too-large',
        `The body is larger than the limit of ${request.routeOptions.bodyLimit} bytes (BODY_LIMIT).`,
      );
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Other client errors Fastify raises (bad content-length, prototype poisoning, ...).
    if (error instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      return new HttpProblem(400, 'malformed-json', `The body could not be read: ${fe.message}`);
    return new HttpProblem(status, 'invalid-request', fe.message);
  }
  return new HttpProblem(500, 'internal-error', 'Internal error; the requestId identifies it in the logs.');
}

export function sendProblem(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  const body: ProblemBody = {
    type: problemTypePrefix + problem.type,
    title: STATUS_CODES[problem.status] ?? 'Error',
    status: problem.status,
    detail: problem.detail,
    instance: reply.request.url.split('?')[0],
    requestId: reply.request.id,
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
  if (problem.headers) reply.headers(problem.headers);
  return reply.code(problem.status).type('application/problem+json; charset=utf-8').send(body);
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
    routes.push({ methods, pattern: new RegExp(`^${source}/?$`) });
  });
  return (path: string) =>
    [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
}

export default fp(
  async (app: FastifyInstance) => {
    const allowedMethods = routeMatcher(app);

    app.setErrorHandler((error, request, reply) => {
      const problem = toProblem(error, request);
      if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ problem: problem.type, detail: problem.detail }, 'request rejected');
      return sendProblem(reply, problem);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0];
      const allow = allowedMethods(path);
      if (allow.length)
        return sendProblem(
          reply,
          new HttpProblem(
            405,
            'method-not-allowed',
            `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}.`,
            undefined,
            { allow: allow.join(', ') },
          ),
        );
      return sendProblem(reply, new HttpProblem(404, 'not-found', `No route ${request.method} ${path}.`));
    });
  },
  { name: 'problem' },
);
