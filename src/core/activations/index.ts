/**
 * The activation table: one entry per activation, grouped by family in the files beside this one.
 * Routes, the catalog, the OpenAPI enum of names, parameter validation and the golden tests all
 * iterate over `activations`; nothing else names a particular activation.
 */
import { exponentialFamily } from './exponential.js';
import { gatedFamily } from './gated.js';
import { piecewiseFamily } from './piecewise.js';
import { softmaxFamily } from './softmax-family.js';
import type { Activation, ElementwiseActivation, ParamSpec, Params } from './types.js';

export type { Activation, ElementwiseActivation, ParamSpec, Params, VectorActivation } from './types.js';

export const activations: readonly Activation[] = [
  ...piecewiseFamily,
  ...exponentialFamily,
  ...gatedFamily,
  ...softmaxFamily,
];

const byName = new Map<string, Activation>();
for (const entry of activations) {
  for (const key of [entry.name, ...entry.aliases]) {
    if (byName.has(key)) throw new Error(`activation table: duplicate name or alias '${key}'`);
    byName.set(key, entry);
  }
}

/** Every name a request may use: canonical names and aliases. */
export const activationNames: readonly string[] = [...byName.keys()];

/** The entry for a canonical name or alias, or undefined. */
export function findActivation(name: string): Activation | undefined {
  return byName.get(name);
}

/** The entries whose derivative (order 1) or second derivative (order 2) can be computed from the output a. */
export function activationsWithDerivativeFromOutput(order: 1 | 2 = 1): ElementwiseActivation[] {
  const key = order === 1 ? 'derivativeFromOutput' : 'secondDerivativeFromOutput';
  return activations.filter(
    (e): e is ElementwiseActivation => e.kind === 'elementwise' && e[key] !== undefined,
  );
}

export interface ParamError {
  /** JSON pointer relative to the params object, e.g. "/alpha" ("" for cross-param constraints). */
  readonly path: string;
  readonly message: string;
}

/**
 * Fills in defaults and checks the raw `params` object of a request against the entry's specs:
 * unknown names, non-finite numbers, bounds and cross-param constraints.
 */
export function resolveParams(
  entry: Activation,
  raw: Readonly<Record<string, unknown>> | undefined,
): { params: Params } | { errors: ParamError[] } {
  const errors: ParamError[] = [];
  const known = new Set(entry.params.map((p) => p.name));
  for (const key of Object.keys(raw ?? {})) {
    if (!known.has(key)) {
      const allowed = entry.params.length ? entry.params.map((p) => p.name).join(', ') : 'none';
      errors.push({ path: `/${key}`, message: `unknown parameter for ${entry.name} (allowed: ${allowed})` });
    }
  }
  const params: Record<string, number> = {};
  for (const spec of entry.params) {
    const value = raw?.[spec.name] ?? spec.default;
    const problem = checkParam(spec, value);
    if (problem) errors.push({ path: `/${spec.name}`, message: problem });
    else params[spec.name] = value as number;
  }
  if (errors.length === 0 && entry.checkParams) {
    const message = entry.checkParams(params);
    if (message) errors.push({ path: '', message });
  }
  return errors.length ? { errors } : { params };
}

function checkParam(spec: ParamSpec, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
  if (spec.minimum !== undefined && value < spec.minimum) return `must be >= ${spec.minimum}`;
  if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum)
    return `must be > ${spec.exclusiveMinimum}`;
  return undefined;
}

/** Default params of an entry (for tests and examples). */
export function defaultParams(entry: Activation): Params {
  return Object.fromEntries(entry.params.map((p) => [p.name, p.default]));
}

/** The first element of `a` that is not a possible output of the entry (see outputCheck), if any. */
export function firstImpossibleOutput(
  entry: ElementwiseActivation,
  a: Float64Array,
  params: Params,
): { index: number; message: string } | undefined {
  const check = entry.outputCheck;
  if (!check) return undefined;
  for (let i = 0; i < a.length; i++) {
    const message = check(a[i], params);
    if (message) return { index: i, message };
  }
  return undefined;
}

type Kernel = (x: number, params: Params) => number;
type Loop = (input: Float64Array, params: Params, out: Float64Array) => void;

const loops = new WeakMap<Kernel, Loop>();

/**
 * The element loop for one kernel. One shared loop calling every kernel of the table is a megamorphic call
 * site: V8 cannot inline any of them and pays a full call per element (relu ran at a third of its speed). A
 * copy of the loop compiled per kernel (new Function gives it its own feedback) sees a single callee, which
 * V8 inlines.
 */
function loopFor(kernel: Kernel): Loop {
  let loop = loops.get(kernel);
  if (!loop) {
    loop = new Function(
      'kernel',
      'return function map(input, params, out) { for (let i = 0; i < input.length; i++) out[i] = kernel(input[i], params); };',
    )(kernel) as Loop;
    loops.set(kernel, loop);
  }
  return loop;
}

/** Applies a scalar kernel to every element. */
export function mapElements(kernel: Kernel, input: Float64Array, params: Params): Float64Array {
  const out = new Float64Array(input.length);
  loopFor(kernel)(input, params, out);
  return out;
}

/** a = g(z) for a whole tensor of rows of length K, elementwise or per row. */
export function forwardTensor(entry: Activation, z: Float64Array, K: number, params: Params): Float64Array {
  if (entry.kind === 'elementwise') return mapElements(entry.forward, z, params);
  const out = new Float64Array(z.length);
  entry.forwardRows(z, K, out);
  return out;
}
