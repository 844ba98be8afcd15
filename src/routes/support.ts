/** What the routes share: reading request tensors, the z-or-a choice, params, and tensor shapes as text. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { headerLengthHeader } from '../codec/binary-tensor.js';
import {
  type Activation,
  activationNames,
  findActivation,
  type Params,
  resolveParams,
} from '../core/activations/index.js';
import { fromJson, type JsonTensor, PackedTensor, ShapeError, type Tensor } from '../core/tensor.js';
import { replyFormat } from '../plugins/binary-tensor.js';
import { HttpProblem, invalid, shapeProblem } from '../plugins/problem.js';
import { type EncodedReply, encodeReply, tensorMediaType } from '../serialize/reply.js';
import { type Job, jobSize, runJob } from '../workers/jobs.js';

/**
 * fromJson, with its ShapeError re-raised as a 400 pointing at `field`. A tensor that arrived packed (binary,
 * or JSON parsed in the worker pool, both checked there) is used as it is.
 */
export function readTensor(field: string, value: JsonTensor | PackedTensor): Tensor {
  if (value instanceof PackedTensor) return value;
  try {
    return fromJson(value);
  } catch (error) {
    if (error instanceof ShapeError) throw shapeProblem(field, error);
    throw error;
  }
}

/** "[3]" for one sample, "[2][3]" for a batch. */
export const shapeOf = (t: Pick<Tensor, 'rows' | 'cols' | 'batched'>): string =>
  t.batched ? `[${t.rows}][${t.cols}]` : `[${t.cols}]`;

/** Exactly one of z and a: both or neither is a 400 naming both fields. */
export function pickInput<T = JsonTensor>(body: { z?: T; a?: T }): { from: 'z' | 'a'; value: T } {
  if (body.z !== undefined && body.a !== undefined)
    throw invalid(
      [
        { path: '/z', message: 'give exactly one of z and a, not both' },
        { path: '/a', message: 'give exactly one of z and a, not both' },
      ],
      'Give exactly one of z and a: the body has both.',
    );
  if (body.z !== undefined) return { from: 'z', value: body.z };
  if (body.a !== undefined) return { from: 'a', value: body.a };
  throw invalid(
    [
      { path: '/z', message: 'is required unless a is given' },
      { path: '/a', message: 'is required unless z is given' },
    ],
    'Give exactly one of z and a: the body has neither.',
  );
}

/** The table entry for a path's name or alias; 404 listing every known name otherwise. */
export function activationFor(name: string): Activation {
  const entry = findActivation(name);
  if (!entry)
    throw new HttpProblem(
      404,
      'unknown-activation',
      `Unknown activation ${JSON.stringify(name)}. Known names and aliases: ${activationNames.join(', ')}.`,
    );
  return entry;
}

/**
 * Routes with a {name} path parameter validate with attachValidation, so that an unknown name (which
 * the enum in the schema rejects) is a 404 rather than a 400; every other validation failure is
 * re-raised here, after the name is known to be good.
 */
export function rethrowValidation(request: FastifyRequest): void {
  if (request.validationError && request.validationError.validationContext !== 'params')
    throw request.validationError;
}

const defaultParamsOf = new WeakMap<Activation, Params>();

/** Defaults filled in and every param checked; a 400 pointing into params otherwise. */
export function paramsFor(entry: Activation, raw: Readonly<Record<string, unknown>> | undefined): Params {
  // Most requests send no params: their defaults are resolved once per entry, not per request.
  if (raw === undefined) {
    let params = defaultParamsOf.get(entry);
    if (!params) {
      const result = resolveParams(entry, undefined);
      if ('errors' in result) throw new Error(`activation table: ${entry.name}'s defaults are invalid`);
      params = Object.freeze(result.params);
      defaultParamsOf.set(entry, params);
    }
    return params;
  }
  const result = resolveParams(entry, raw);
  if ('errors' in result)
    throw invalid(result.errors.map((e) => ({ path: `/params${e.path}`, message: e.message })));
  return result.params;
}

/**
 * Runs a route's job and sends the reply in the negotiated form (JSON or binary tensors). Jobs past
 * OFFLOAD_THRESHOLD run in the worker pool, which also writes the reply there; smaller ones run here.
 */
export async function respond(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  job: Job,
): Promise<FastifyReply> {
  const format = replyFormat(request);
  const encoded: EncodedReply = app.offload.offloads(jobSize(job))
    ? await app.offload.run(job, format)
    : encodeReply(runJob(job), format);
  app.countResult(request, job);
  // The form depends on Accept: caches must not serve one client's form to another.
  reply.header('vary', 'Accept');
  if (encoded.format === 'json') return reply.type('application/json; charset=utf-8').send(encoded.body);
  return reply
    .header(headerLengthHeader, String(encoded.headerLength))
    .type(tensorMediaType)
    .send(encoded.body);
}
