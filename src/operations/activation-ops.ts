/**
 * The operations of one activation named by the route or model: forward (every activation), derivative and
 * second-derivative (elementwise ones), jacobian and vjp (vector ones).
 */
import {
  type Activation,
  activationsWithDerivativeFromOutput,
  type ElementwiseActivation,
  findActivation,
  firstImpossibleOutput,
  forwardTensor,
  mapElements,
  type Params,
  type VectorActivation,
} from '../core/activations/index.js';
import { assertFinite } from '../core/errors.js';
import {
  DerivativeFromOutputUnsupportedError,
  InvalidRequestError,
  invalidField,
  WrongActivationKindError,
} from '../errors.js';
import {
  activationOf,
  elementPointer,
  paramsFor,
  pickZOrA,
  requireTensor,
  rowPointer,
  rowsOf,
  shapeText,
} from './support.js';
import type { InputSpec, Job, Operation, OperationRequest, TensorValue } from './types.js';

/**
 * The /v2 metadata shape of a tensor these operations take: one sample, K numbers. Any rank is taken (leading
 * dimensions are rows, the last axis is K), but a metadata shape has a fixed rank: it shows the simplest one a
 * client can send, and the Jacobian's shape is then [K, K].
 */
const sample = [-1];

function entryOf(job: Job): Activation {
  const entry = job.activation === undefined ? undefined : findActivation(job.activation);
  if (!entry) throw new RangeError(`job: unknown activation ${job.activation}`);
  return entry;
}

const elementwiseOf = (job: Job): ElementwiseActivation => {
  const entry = entryOf(job);
  if (entry.kind !== 'elementwise') throw new RangeError(`job: ${entry.name} is not elementwise`);
  return entry;
};

const vectorOf = (job: Job): VectorActivation => {
  const entry = entryOf(job);
  if (entry.kind !== 'vector') throw new RangeError(`job: ${entry.name} is not a vector activation`);
  return entry;
};

/** The input of a z-or-a job and which one it is. */
function inputOf(job: Job): { from: 'z' | 'a'; t: TensorValue } {
  const z = job.tensors.z;
  return z ? { from: 'z', t: z } : { from: 'a', t: job.tensors.a };
}

function paramText(entry?: Activation): string {
  return entry?.params.length
    ? `request parameters: ${entry.params.map((p) => `${p.name} (default ${p.default})`).join(', ')}`
    : 'no request parameters';
}

export const forward: Operation<'forward'> = {
  name: 'forward',
  scope: 'any',
  describe: (entry) =>
    `a = ${entry?.name}(z)${entry?.kind === 'vector' ? ' over the last axis' : ', elementwise'}`,
  inputs: () => [{ name: 'z', shape: sample }],
  outputs: [{ name: 'a', shape: sample }],
  options: [],
  parameterText: paramText,
  prepare: (request) => {
    const entry = activationOf(request);
    const z = requireTensor(request.tensors, 'z');
    return {
      operation: 'forward',
      activation: entry.name,
      params: paramsFor(entry, request),
      options: {},
      tensors: { z },
    };
  },
  results: (job) => [{ name: 'a', dims: job.tensors.z.shape }],
  size: (job) => 2 * job.tensors.z.data.length,
  run: (job) => {
    const { z } = job.tensors;
    const a = forwardTensor(entryOf(job), z.data, rowsOf(z).K, job.params);
    assertFinite('a', a);
    return [{ name: 'a', data: a, dims: z.shape }];
  },
};

const zOrA: readonly InputSpec[] = [
  { name: 'z', shape: sample, optional: true },
  { name: 'a', shape: sample, optional: true },
];

/** Whether the entry has g' (order 1) or g'' (order 2) as a closed form of a, so that the operation may read `a`. */
const fromOutputOf = (entry: Activation | undefined, order: 1 | 2): boolean =>
  entry?.kind === 'elementwise' &&
  (order === 1 ? entry.derivativeFromOutput : entry.secondDerivativeFromOutput) !== undefined;

/** z alone, or the z-or-a choice where the entry has the closed form in a of that order. */
const elementwiseInputs = (entry: Activation | undefined, order: 1 | 2): readonly InputSpec[] =>
  fromOutputOf(entry, order) ? zOrA : [{ name: 'z', shape: sample }];

/**
 * The common checks of derivative and second-derivative: the route's activation is elementwise (else a 400 with
 * `vectorAdvice`), exactly one of z and a, a only where the entry has the closed form of that order in a (else a
 * 400 naming those that have it), and every a a possible output. Returns the job's fields.
 */
function prepareElementwise(
  request: OperationRequest,
  order: 1 | 2,
  vectorAdvice: (name: string) => string,
): {
  activation: string;
  params: Params;
  options: Record<string, never>;
  tensors: Record<string, TensorValue>;
} {
  const entry = activationOf(request);
  if (entry.kind !== 'elementwise')
    throw new WrongActivationKindError('vector-activation', vectorAdvice(entry.name));
  const { from, t } = pickZOrA(request.tensors);
  const params = paramsFor(entry, request);
  if (from === 'a') {
    if (!fromOutputOf(entry, order)) {
      const allowed = activationsWithDerivativeFromOutput(order).map((e) => e.name);
      const what = order === 1 ? 'derivative' : 'second derivative';
      throw new DerivativeFromOutputUnsupportedError(
        `${entry.name}'s ${what} cannot be computed from a alone: send z instead (from a: ${allowed.join(', ')})`,
      );
    }
    const impossible = firstImpossibleOutput(entry, t.data, params);
    if (impossible)
      throw invalidField(
        elementPointer('a', t.shape, impossible.index),
        `${impossible.message} (${entry.name})`,
      );
  }
  return { activation: entry.name, params, options: {}, tensors: { [from]: t } };
}

/** A kernel in a that prepare checked exists: a job without one reaching run is a bug (RangeError, as entryOf). */
function closedFormInA(
  kernel: ((x: number, params: Params) => number) | undefined,
): (x: number, params: Params) => number {
  if (!kernel) throw new RangeError('job: the activation has no closed form in a');
  return kernel;
}

export const derivative: Operation<'derivative'> = {
  name: 'derivative',
  scope: 'elementwise',
  describe: (entry) =>
    `${entry?.name}'(z) elementwise, with a = ${entry?.name}(z)` +
    (fromOutputOf(entry, 1)
      ? '; or from the input a alone (give exactly one of z and a), output derivative only'
      : ''),
  inputs: (entry) => elementwiseInputs(entry, 1),
  outputs: [
    { name: 'derivative', shape: sample },
    { name: 'a', shape: sample },
  ],
  options: [],
  parameterText: paramText,
  prepare: (request) => ({
    operation: 'derivative',
    ...prepareElementwise(
      request,
      1,
      (name) =>
        `${name} is not elementwise (each output depends on the whole row), so it has a Jacobian, not an ` +
        `elementwise derivative: use POST /v1/activations/${name}/jacobian for the Jacobian or ` +
        `POST /v1/activations/${name}/vjp for v^T J.`,
    ),
  }),
  results: (job) => {
    const { from, t } = inputOf(job);
    // From z the reply carries a beside the derivative.
    return from === 'z'
      ? [
          { name: 'derivative', dims: t.shape },
          { name: 'a', dims: t.shape },
        ]
      : [{ name: 'derivative', dims: t.shape }];
  },
  size: (job) => 3 * inputOf(job).t.data.length,
  run: (job) => {
    const entry = elementwiseOf(job);
    const { from, t } = inputOf(job);
    if (from === 'a') {
      const derivative = mapElements(closedFormInA(entry.derivativeFromOutput), t.data, job.params);
      assertFinite('derivative', derivative);
      return [{ name: 'derivative', data: derivative, dims: t.shape }];
    }
    const a = mapElements(entry.forward, t.data, job.params);
    assertFinite('a', a);
    const derivative = mapElements(entry.derivative, t.data, job.params);
    assertFinite('derivative', derivative);
    return [
      { name: 'derivative', data: derivative, dims: t.shape },
      { name: 'a', data: a, dims: t.shape },
    ];
  },
};

export const secondDerivative: Operation<'second-derivative'> = {
  name: 'second-derivative',
  scope: 'elementwise',
  describe: (entry) =>
    `${entry?.name}''(z) elementwise, with ${entry?.name}'(z) and a = ${entry?.name}(z)` +
    (fromOutputOf(entry, 2)
      ? "; or from the input a alone (give exactly one of z and a), with g'' and g' only"
      : ''),
  inputs: (entry) => elementwiseInputs(entry, 2),
  outputs: [
    { name: 'secondDerivative', shape: sample },
    { name: 'derivative', shape: sample },
    { name: 'a', shape: sample },
  ],
  options: [],
  parameterText: paramText,
  prepare: (request) => ({
    operation: 'second-derivative',
    ...prepareElementwise(
      request,
      2,
      (name) =>
        `${name} is not elementwise: its second derivative is a K x K x K tensor per row. For curvature through ` +
        `a ${name} layer use POST /v1/gradients/network/hessian-vector (Hessian- and Gauss-Newton-vector ` +
        'products of a network, softmax layers included).',
    ),
  }),
  results: (job) => {
    const { from, t } = inputOf(job);
    const names = from === 'z' ? ['secondDerivative', 'derivative', 'a'] : ['secondDerivative', 'derivative'];
    return names.map((name) => ({ name, dims: t.shape }));
  },
  size: (job) => {
    const { from, t } = inputOf(job);
    return (from === 'z' ? 4 : 3) * t.data.length;
  },
  run: (job) => {
    const entry = elementwiseOf(job);
    const { from, t } = inputOf(job);
    const fromA = from === 'a';
    const second = mapElements(
      fromA ? closedFormInA(entry.secondDerivativeFromOutput) : entry.secondDerivative,
      t.data,
      job.params,
    );
    assertFinite('secondDerivative', second);
    const derivative = mapElements(
      fromA ? closedFormInA(entry.derivativeFromOutput) : entry.derivative,
      t.data,
      job.params,
    );
    assertFinite('derivative', derivative);
    const fields = [
      { name: 'secondDerivative', data: second, dims: t.shape },
      { name: 'derivative', data: derivative, dims: t.shape },
    ];
    if (fromA) return fields;
    const a = mapElements(entry.forward, t.data, job.params);
    assertFinite('a', a);
    return [...fields, { name: 'a', data: a, dims: t.shape }];
  },
};

/** A vector activation from the route, or a 400 sending an elementwise one to /derivative. */
function vectorActivation(entry: Activation, operation: string): VectorActivation {
  if (entry.kind === 'vector') return entry;
  throw new WrongActivationKindError(
    'elementwise-activation',
    `${entry.name} is elementwise: its Jacobian is diagonal, with g'(z) on the diagonal, so it has no ${operation} ` +
      `route: use POST /v1/activations/${entry.name}/derivative (and multiply by v elementwise for v^T J).`,
  );
}

/** z, or an a the activation can produce (checked by its output form: probabilities for softmax). */
function vectorInput(entry: VectorActivation, tensors: ReadonlyMap<string, TensorValue>) {
  const input = pickZOrA(tensors);
  if (input.from === 'a') {
    const fromOutput = entry.fromOutput;
    if (!fromOutput)
      throw invalidField('/a', `${entry.name}'s Jacobian cannot be computed from a alone: send z instead`);
    const { K } = rowsOf(input.t);
    const problem = fromOutput.check(input.t.data, K);
    if (problem) {
      const path =
        problem.col !== undefined
          ? elementPointer('a', input.t.shape, problem.row * K + problem.col)
          : rowPointer('a', input.t.shape, problem.row);
      throw invalidField(path, problem.message);
    }
  }
  return input;
}

export const jacobian: Operation<'jacobian'> = {
  name: 'jacobian',
  scope: 'vector',
  describe: (entry) =>
    `The ${entry?.name} Jacobian over the last axis, jacobian[..., i, j] = da_i/dz_j, from z or from its ` +
    'output a (exactly one); the jacobian counts against MAX_ELEMENTS',
  inputs: () => zOrA,
  outputs: [
    { name: 'a', shape: sample },
    { name: 'jacobian', shape: [-1, -1] },
  ],
  options: [],
  parameterText: paramText,
  prepare: (request) => {
    const entry = vectorActivation(activationOf(request), 'jacobian');
    const { from, t } = vectorInput(entry, request.tensors);
    return {
      operation: 'jacobian',
      activation: entry.name,
      params: paramsFor(entry, request),
      options: {},
      tensors: { [from]: t },
    };
  },
  results: (job) => {
    const { t } = inputOf(job);
    return [
      { name: 'a', dims: t.shape },
      { name: 'jacobian', dims: [...t.shape, rowsOf(t).K] },
    ];
  },
  size: (job) => {
    const { t } = inputOf(job);
    return 2 * t.data.length + t.data.length * rowsOf(t).K;
  },
  run: (job) => {
    const entry = vectorOf(job);
    const { from, t } = inputOf(job);
    const { K } = rowsOf(t);
    const jacobian = new Float64Array(t.data.length * K);
    let a: Float64Array;
    if (from === 'z') {
      a = forwardTensor(entry, t.data, K, job.params);
      assertFinite('a', a);
      entry.jacobianRows(t.data, a, K, jacobian);
    } else {
      a = Float64Array.from(t.data);
      entry.fromOutput?.jacobianRows(a, K, jacobian);
    }
    assertFinite('jacobian', jacobian);
    return [
      { name: 'a', data: a, dims: t.shape },
      { name: 'jacobian', data: jacobian, dims: [...t.shape, K] },
    ];
  },
};

export const vjp: Operation<'vjp'> = {
  name: 'vjp',
  scope: 'vector',
  describe: (entry) =>
    `gradient = v^T J per row of the last axis (J the ${entry?.name} Jacobian, never built), from z or from ` +
    'its output a (exactly one), and v of the same shape',
  inputs: () => [...zOrA, { name: 'v', shape: sample }],
  outputs: [
    { name: 'a', shape: sample },
    { name: 'gradient', shape: sample },
  ],
  options: [],
  parameterText: paramText,
  prepare: (request) => {
    const entry = vectorActivation(activationOf(request), 'vjp');
    const { from, t } = vectorInput(entry, request.tensors);
    const v = requireTensor(request.tensors, 'v');
    if (shapeText(v.shape) !== shapeText(t.shape))
      throw new InvalidRequestError(
        [
          {
            path: '/v',
            message: `must have the shape of ${from} ${shapeText(t.shape)}, has ${shapeText(v.shape)}`,
          },
        ],
        `v has shape ${shapeText(v.shape)} but ${from} has shape ${shapeText(t.shape)}: they must be equal.`,
      );
    return {
      operation: 'vjp',
      activation: entry.name,
      params: paramsFor(entry, request),
      options: {},
      tensors: { [from]: t, v },
    };
  },
  results: (job) => {
    const { t } = inputOf(job);
    return [
      { name: 'a', dims: t.shape },
      { name: 'gradient', dims: t.shape },
    ];
  },
  size: (job) => 4 * inputOf(job).t.data.length,
  run: (job) => {
    const entry = vectorOf(job);
    const { from, t } = inputOf(job);
    const { v } = job.tensors;
    const { K } = rowsOf(t);
    const gradient = new Float64Array(t.data.length);
    let a: Float64Array;
    if (from === 'z') {
      a = forwardTensor(entry, t.data, K, job.params);
      assertFinite('a', a);
      entry.backwardRows(t.data, a, v.data, K, gradient);
    } else {
      a = Float64Array.from(t.data);
      entry.fromOutput?.backwardRows(a, v.data, K, gradient);
    }
    assertFinite('gradient', gradient);
    return [
      { name: 'a', data: a, dims: t.shape },
      { name: 'gradient', data: gradient, dims: t.shape },
    ];
  },
};
