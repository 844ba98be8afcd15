/**
 * The operation table: one entry per operation, and everything the surfaces and the worker pool need derived
 * from it. /v1 routes and /v2 models read a request into an OperationRequest and call prepareJob; the job then
 * runs here or in the worker pool (runJob, by name), and the metrics count resultElements. Adding an operation
 * is adding its entry below (and its schema for /v1).
 */
import { TooManyElementsError } from '../errors.js';
import type { ReplyField } from '../serialize/reply.js';
import { derivative, forward, jacobian, secondDerivative, vjp } from './activation-ops.js';
import { checkOperation, hessianVectorOperation, networkOperation } from './network.js';
import { outputLayerOperation } from './output-layer.js';
import { shapeText, sizeOf } from './support.js';
import type { Job, Operation, OperationRequest } from './types.js';

export type * from './types.js';

export const operations = [
  forward,
  derivative,
  secondDerivative,
  jacobian,
  vjp,
  outputLayerOperation,
  networkOperation,
  hessianVectorOperation,
  checkOperation,
] as const satisfies readonly Operation[];

/** An operation's name: 'forward' | 'derivative' | ..., the names of the entries above. */
export type OperationName = (typeof operations)[number]['name'];

const byName = new Map<string, Operation>(operations.map((op) => [op.name, op]));

/** The entry of an operation by name: a job's name is a string (jobs cross to worker threads as data). */
export function operationNamed(name: string): Operation {
  const op = byName.get(name);
  if (!op) throw new RangeError(`operation table: no operation ${name}`);
  return op;
}

/**
 * Validates a request for an operation and returns its job. Every result tensor is checked against
 * MAX_ELEMENTS here, before any work (a Jacobian's N*K*K, a weight gradient's M*K); the request tensors were
 * checked as they were read (element-limit and binary-tensor plugins on /v1, the /v2 input reader).
 */
export function prepareJob(name: OperationName, request: OperationRequest): Job {
  const { maxElements } = request;
  const op = operationNamed(name);
  const job = op.prepare(request);
  for (const result of op.results(job)) {
    const count = sizeOf(result.dims);
    if (count > maxElements)
      throw new TooManyElementsError(
        `The result ${result.name} (${shapeText(result.dims)})`,
        count,
        maxElements,
      );
  }
  return job;
}

/** Runs a job: the same code on the event loop and in the worker pool. */
export const runJob = (job: Job): ReplyField[] => operationNamed(job.operation).run(job);

/** The measure of a job's cost that decides whether it runs in the worker pool. */
export const jobSize = (job: Job): number => operationNamed(job.operation).size(job);

/** The float64 arrays a job reads (what a worker gets by transfer). */
export const jobInputs = (job: Job): Float64Array[] => Object.values(job.tensors).map((t) => t.data);

/** Numbers in the job's result tensors (a scalar such as the loss is not one): what the metrics count. */
export const resultElements = (job: Job): number =>
  operationNamed(job.operation)
    .results(job)
    .reduce((n, r) => n + sizeOf(r.dims), 0);
