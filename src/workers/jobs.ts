/**
 * The work of each route after its checks, as plain data that can cross to a worker thread: which core
 * function, on which float64 arrays of which shape. runJob calls core, checks every result finite in the
 * order the contract names them (NonFiniteResultError -> 422), and lays the results out as reply fields.
 * The event loop (small requests) and the worker pool (large ones) run the same runJob, so both give the
 * same numbers and the same errors.
 */
import { findActivation, forwardTensor, mapElements, type Params } from '../core/activations/index.js';
import { assertFinite } from '../core/errors.js';
import type { Loss, Reduction } from '../core/losses.js';
import { outputLayer } from '../core/output-layer.js';
import { softmaxJacobian, softmaxVjp } from '../core/softmax.js';
import { dimsOf, type Tensor } from '../core/tensor.js';
import type { ReplyField } from '../serialize/reply.js';

export type Shape = Pick<Tensor, 'rows' | 'cols' | 'batched'>;

/** A tensor's shape without its data (what a job carries beside the transferred arrays). */
export const shapeOf = (t: Shape): Shape => ({ rows: t.rows, cols: t.cols, batched: t.batched });

export type Job =
  | { kind: 'forward'; activation: string; params: Params; z: Float64Array; shape: Shape }
  | {
      kind: 'derivative';
      activation: string;
      params: Params;
      from: 'z' | 'a';
      input: Float64Array;
      shape: Shape;
    }
  | { kind: 'jacobian'; from: 'z' | 'a'; input: Float64Array; shape: Shape }
  | { kind: 'vjp'; from: 'z' | 'a'; input: Float64Array; v: Float64Array; shape: Shape }
  | {
      kind: 'output-layer';
      activation: string;
      params: Params;
      x: Float64Array;
      xShape: Shape;
      weights: Float64Array;
      M: number;
      K: number;
      bias?: Float64Array;
      targets: Float64Array;
      targetsShape: Shape;
      loss: Loss;
      reduction: Reduction;
    };

/** The float64 arrays a job reads (what a worker gets by transfer). */
export function jobInputs(job: Job): Float64Array[] {
  switch (job.kind) {
    case 'forward':
      return [job.z];
    case 'derivative':
    case 'jacobian':
      return [job.input];
    case 'vjp':
      return [job.input, job.v];
    case 'output-layer':
      return [job.x, job.weights, job.targets, ...(job.bias ? [job.bias] : [])];
  }
}

/** Numbers read plus numbers written: the measure of a job's cost that decides where it runs. */
export function jobSize(job: Job): number {
  switch (job.kind) {
    case 'forward':
      return 2 * job.z.length;
    case 'derivative':
      return 3 * job.input.length;
    case 'jacobian':
      return 2 * job.input.length + job.input.length * job.shape.cols;
    case 'vjp':
      return 4 * job.input.length;
    case 'output-layer':
      // z = x W is N*M*K multiply-adds, the gradients twice that: count the work, not only the arrays.
      return 3 * job.xShape.rows * job.M * job.K + 2 * job.x.length + job.weights.length;
  }
}

function entryFor(name: string) {
  const entry = findActivation(name);
  if (!entry) throw new RangeError(`job: unknown activation ${name}`);
  return entry;
}

/** Runs a job: core, finiteness checks (throwing NonFiniteResultError), reply fields. */
export function runJob(job: Job): ReplyField[] {
  switch (job.kind) {
    case 'forward': {
      const entry = entryFor(job.activation);
      const a = forwardTensor(entry, job.z, job.shape.cols, job.params);
      assertFinite('a', a);
      return [{ name: 'a', data: a, dims: dimsOf(job.shape) }];
    }
    case 'derivative': {
      const entry = entryFor(job.activation);
      if (entry.kind !== 'elementwise') throw new RangeError(`job: ${entry.name} is not elementwise`);
      const dims = dimsOf(job.shape);
      if (job.from === 'z') {
        const a = mapElements(entry.forward, job.input, job.params);
        assertFinite('a', a);
        const derivative = mapElements(entry.derivative, job.input, job.params);
        assertFinite('derivative', derivative);
        return [
          { name: 'derivative', data: derivative, dims },
          { name: 'a', data: a, dims },
        ];
      }
      if (!entry.derivativeFromOutput) throw new RangeError(`job: ${entry.name} has no derivative from a`);
      const derivative = mapElements(entry.derivativeFromOutput, job.input, job.params);
      assertFinite('derivative', derivative);
      return [{ name: 'derivative', data: derivative, dims }];
    }
    case 'jacobian': {
      const { rows, cols: K, batched } = job.shape;
      const { a, jacobian } = softmaxJacobian(job.input, K, job.from);
      assertFinite('a', a);
      assertFinite('jacobian', jacobian);
      return [
        { name: 'a', data: a, dims: dimsOf(job.shape) },
        { name: 'jacobian', data: jacobian, dims: batched ? [rows, K, K] : [K, K] },
      ];
    }
    case 'vjp': {
      const { a, gradient } = softmaxVjp(job.input, job.v, job.shape.cols, job.from);
      assertFinite('a', a);
      assertFinite('gradient', gradient);
      const dims = dimsOf(job.shape);
      return [
        { name: 'a', data: a, dims },
        { name: 'gradient', data: gradient, dims },
      ];
    }
    case 'output-layer': {
      const result = outputLayer({
        x: job.x,
        N: job.xShape.rows,
        M: job.M,
        weights: job.weights,
        K: job.K,
        bias: job.bias,
        targets: job.targets,
        activation: entryFor(job.activation),
        params: job.params,
        loss: job.loss,
        reduction: job.reduction,
      });
      assertFinite('loss', result.loss);
      for (const [quantity, data] of Object.entries(result))
        if (typeof data !== 'number') assertFinite(quantity, data);
      const t = dimsOf(job.targetsShape);
      return [
        { name: 'loss', value: result.loss },
        { name: 'z', data: result.z, dims: t },
        { name: 'a', data: result.a, dims: t },
        { name: 'delta', data: result.delta, dims: t },
        { name: 'weightGradient', data: result.weightGradient, dims: [job.M, job.K] },
        { name: 'biasGradient', data: result.biasGradient, dims: [job.K] },
        { name: 'inputGradient', data: result.inputGradient, dims: dimsOf(job.xShape) },
      ];
    }
  }
}
