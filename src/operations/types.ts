/**
 * The shape of one entry of the operation table (./index.ts). An operation is defined once, here: its input
 * tensors and their rules, its params and options, its validation, its size, `run` over typed arrays and its
 * result tensors. The /v1 routes, the /v2 models, the worker pool and the metrics are renderings of it.
 */
import type { Activation, Params } from '../core/activations/index.js';
import type { ReplyField } from '../serialize/reply.js';

/** A tensor as operations see it: row-major float64 and its shape; the last axis is K, the others rows. */
export interface TensorValue {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

/** Which activations an operation takes from the route or model name; 'none': it takes none that way. */
export type ActivationScope = 'any' | 'elementwise' | 'vector' | 'none';

/** What a surface hands an operation, once its own format is read: tensors by name, raw params and options. */
export interface OperationRequest {
  /** The activation named by the path or model (operations whose scope is not 'none'). */
  readonly activation?: Activation;
  /** The tensors present in the request, by the operation's input names. */
  readonly tensors: ReadonlyMap<string, TensorValue>;
  /** The activation's params as sent (undefined: all defaults). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** The operation's own options as sent (the output layer's activation, loss, reduction). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Where params and options sit in the request, for the pointers of errors: /v1 '/params' and '', /v2 '/parameters'. */
  readonly pointers: { readonly params: string; readonly options: string };
  readonly maxElements: number;
}

/**
 * A validated request, as plain data that can cross to a worker thread: the operation by name, the activation
 * by canonical name, resolved params, string options and the input tensors (their buffers are transferred).
 */
export interface Job<Name extends string = string> {
  /** The operation's name (OperationName, in ./index.ts: the union of the table's names). */
  readonly operation: Name;
  readonly activation?: string;
  readonly params: Params;
  readonly options: Readonly<Record<string, string | number | boolean>>;
  readonly tensors: Readonly<Record<string, TensorValue>>;
  /** Per layer, first to last, for operations over a network: each layer's activation and resolved params. */
  readonly layers?: readonly JobLayer[];
}

/** One dense layer of a job: the activation by canonical name and its resolved params. */
export interface JobLayer {
  readonly activation: string;
  readonly params: Params;
}

/** One input of the operation, for /v2 metadata and for reading requests. */
export interface InputSpec {
  readonly name: string;
  /**
   * The /v2 metadata shape, -1 for a dimension of any size: the shape of one sample, the simplest a client can
   * send (inputs that take rows also take leading batch dimensions).
   */
  readonly shape: readonly number[];
  /** May be absent (the z-or-a choice, the bias). */
  readonly optional?: boolean;
}

/** One result of the operation: a tensor, or a number (the loss: a field on /v1, a [1] tensor on /v2). */
export interface OutputSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** A result tensor's name and dims, known before running (for MAX_ELEMENTS and the metrics). */
export interface ResultShape {
  readonly name: string;
  readonly dims: readonly number[];
}

/**
 * One entry of the table, declared as `Operation<'its-name'>`: the table's OperationName is the union of its
 * entries' names, and the job an entry prepares carries that same name.
 */
export interface Operation<Name extends string = string> {
  readonly name: Name;
  readonly scope: ActivationScope;
  /**
   * Rendered on /v1 only, not as a /v2 model: the network's per-layer activations and its per-layer tensor
   * names have no form among a model's fixed inputs and scalar parameters.
   */
  readonly v1Only?: boolean;
  /** What the operation computes (for /v2 model metadata), given the activation when it takes one. */
  readonly describe: (activation?: Activation) => string;
  /** The inputs, given the activation (the derivative reads a only where the activation allows it). */
  readonly inputs: (activation?: Activation) => readonly InputSpec[];
  readonly outputs: readonly OutputSpec[];
  /** Names of the operation's options (the rest of /v2 `parameters` are the activation's params). */
  readonly options: readonly string[];
  /** What request parameters it reads, for /v2 metadata. */
  readonly parameterText: (activation?: Activation) => string;
  /** Checks the request (shapes, params, possible outputs) and builds the job; throws ServiceError. */
  readonly prepare: (request: OperationRequest) => Job<Name>;
  /** The result tensors' dims (scalar results excluded): checked against MAX_ELEMENTS, counted by metrics. */
  readonly results: (job: Job) => readonly ResultShape[];
  /** Numbers read plus numbers written (or the work, for products): decides whether it runs in the pool. */
  readonly size: (job: Job) => number;
  /** Pure: core over the job's arrays, finiteness checked (NonFiniteResultError), results in reply order. */
  readonly run: (job: Job) => ReplyField[];
}
