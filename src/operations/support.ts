/** What several operations share: the z-or-a choice, params, pointers into tensors, shapes as text. */
import { type Activation, type Params, resolveParams } from '../core/activations/index.js';
import { InvalidRequestError, invalidField } from '../errors.js';
import type { OperationRequest, TensorValue } from './types.js';

/** "[3]" for one sample, "[2][3]" for a batch: a shape as the JSON nesting shows it. */
export const shapeText = (shape: readonly number[]): string => `[${shape.join('][')}]`;

/** A 400 about one field whose message is the whole detail: shapes that do not agree. */
export const mismatch = (path: string, message: string): InvalidRequestError =>
  invalidField(path, message, message);

/** N, the samples of a [M] or [N][M] tensor (1 for one sample). */
export const samples = (t: TensorValue): number => (t.shape.length === 2 ? t.shape[0] : 1);

/** The per-sample length of a [M] or [N][M] tensor: its last axis. */
export const perSample = (t: TensorValue): number => t.shape[t.shape.length - 1];

/** The option `name`, one of `allowed` (`fallback` when absent); a 400 listing the allowed values otherwise. */
export function oneOf<T extends string>(
  request: Pick<OperationRequest, 'options' | 'pointers'>,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = request.options[name] ?? fallback;
  if (!(allowed as readonly unknown[]).includes(value))
    throw invalidField(`${request.pointers.options}/${name}`, `must be one of: ${allowed.join(', ')}`);
  return value as T;
}

/** Element count of a shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** K (the last axis, the one vector activations normalise) and the number of rows of length K. */
export function rowsOf(t: TensorValue): { rows: number; K: number } {
  const K = t.shape[t.shape.length - 1];
  return { rows: t.data.length / K, K };
}

/** JSON pointer of element `index` (row-major) of the tensor `name`: /a/3 for [K], /a/1/2 for [N][K]. */
export function elementPointer(name: string, shape: readonly number[], index: number): string {
  const parts: number[] = new Array(shape.length);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    parts[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
  }
  return `/${name}/${parts.join('/')}`;
}

/** JSON pointer of row `row` (all axes but the last) of the tensor `name`: /a for [K], /a/1 for [N][K]. */
export function rowPointer(name: string, shape: readonly number[], row: number): string {
  return shape.length === 1 ? `/${name}` : elementPointer(name, shape.slice(0, -1), row);
}

/** Exactly one of z and a: both or neither is a 400 naming both fields. */
export function pickZOrA(tensors: ReadonlyMap<string, TensorValue>): { from: 'z' | 'a'; t: TensorValue } {
  const z = tensors.get('z');
  const a = tensors.get('a');
  if (z && a)
    throw new InvalidRequestError(
      [
        { path: '/z', message: 'give exactly one of z and a, not both' },
        { path: '/a', message: 'give exactly one of z and a, not both' },
      ],
      'Give exactly one of z and a: the request has both.',
    );
  if (z) return { from: 'z', t: z };
  if (a) return { from: 'a', t: a };
  throw new InvalidRequestError(
    [
      { path: '/z', message: 'is required unless a is given' },
      { path: '/a', message: 'is required unless z is given' },
    ],
    'Give exactly one of z and a: the request has neither.',
  );
}

/** A required input; a 400 naming it when absent. */
export function requireTensor(tensors: ReadonlyMap<string, TensorValue>, name: string): TensorValue {
  const t = tensors.get(name);
  if (!t) throw invalidField(`/${name}`, 'is required', `the input ${name} is required`);
  return t;
}

const defaultParamsOf = new WeakMap<Activation, Params>();

/** The entry's params with defaults filled in and every one checked; a 400 pointing into params otherwise. */
export function paramsFor(entry: Activation, request: Pick<OperationRequest, 'params' | 'pointers'>): Params {
  const raw = request.params;
  // Most requests send no params: their defaults are resolved once per entry, not per request.
  if (raw === undefined || Object.keys(raw).length === 0) {
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
    throw new InvalidRequestError(
      result.errors.map((e) => ({ path: `${request.pointers.params}${e.path}`, message: e.message })),
    );
  return result.params;
}

/** The activation an activation operation was given; the surfaces resolve it from the name first. */
export function activationOf(request: OperationRequest): Activation {
  if (!request.activation) throw new Error('operation: no activation given for an activation operation');
  return request.activation;
}
