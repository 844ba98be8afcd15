/** What the routes share: reading request tensors, the z-or-a choice, params, and tensor shapes as text. */
import type { FastifyRequest } from 'fastify';
import {
  type Activation,
  activationNames,
  findActivation,
  type Params,
  resolveParams,
} from '../core/activations/index.js';
import { fromJson, type JsonTensor, ShapeError, type Tensor } from '../core/tensor.js';
import { HttpProblem, invalid, shapeProblem } from '../plugins/problem.js';

/** fromJson, with its ShapeError re-raised as a 400 pointing at `field`. */
export function readTensor(field: string, value: JsonTensor): Tensor {
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
export function pickInput(body: { z?: JsonTensor; a?: JsonTensor }): { from: 'z' | 'a'; value: JsonTensor } {
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

/** Defaults filled in and every param checked; a 400 pointing into params otherwise. */
export function paramsFor(entry: Activation, raw: Readonly<Record<string, unknown>> | undefined): Params {
  const result = resolveParams(entry, raw);
  if ('errors' in result)
    throw invalid(result.errors.map((e) => ({ path: `/params${e.path}`, message: e.message })));
  return result.params;
}
