/**
 * The request and reply types of gradient-service, as plain TypeScript: a consumer's compiler reads this
 * one small file, not the service's TypeBox schemas. The names (activations, losses, reductions, curvatures) are
 * generated from the service's tables into names.ts; the interfaces are written by hand, generic over the
 * tensor shape, and kept equal to the schemas' Static types by test/client/types-sync.ts in the service
 * repository (a compile-time check both ways), so a schema change not made here fails the type check.
 *
 * Tensors are generic: a one-sample request (`number[]`) gets one-sample replies, a batch (`number[][]`)
 * batch replies.
 */

import type { ActivationName, Curvature, Loss, Reduction } from './names.js';

export * from './names.js';

/** One sample, shape [K]. */
export type Vector = number[];
/** A batch of N samples, shape [N][K] (rows of equal length). */
export type Batch = number[][];
/** A tensor: one sample or a batch. */
export type Tensor = Vector | Batch;

/** What a tensor of K numbers becomes when each of its rows becomes a K x K matrix (the Jacobian). */
export type MatrixPerRow<T extends Tensor> = T extends Batch ? number[][][] : number[][];

/** Activation parameters by name, e.g. { alpha: 0.2 }; omitted ones take their defaults. */
export type ActivationParams = Record<string, number>;

export interface ForwardRequest<T extends Tensor = Tensor> {
  /** Pre-activations z: [K] or [N][K]. */
  z: T;
  params?: ActivationParams;
}

export interface ForwardResponse<T extends Tensor = Tensor> {
  /** a = g(z), the shape of z. */
  a: T;
}

/** Exactly one of z and a (a only where the activation's derivativeFromOutput is true). */
export interface DerivativeRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
  params?: ActivationParams;
}

export interface DerivativeResponse<T extends Tensor = Tensor> {
  /** g'(z), the shape of the input. */
  derivative: T;
  /** a = g(z); present when z was given. */
  a?: T;
}

/** Exactly one of z and a (a only where the activation's secondDerivativeFromOutput is true). */
export interface SecondDerivativeRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
  params?: ActivationParams;
}

export interface SecondDerivativeResponse<T extends Tensor = Tensor> {
  /** g''(z), the shape of the input. */
  secondDerivative: T;
  /** g'(z), the shape of the input. */
  derivative: T;
  /** a = g(z); present when z was given. */
  a?: T;
}

/** Exactly one of z (logits) and a (probabilities). */
export interface JacobianRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
}

export interface JacobianResponse<T extends Tensor = Tensor> {
  /** softmax(z), or the given a. */
  a: T;
  /** jacobian[i][j] = da_i/dz_j: K x K for one sample, N x K x K for a batch. */
  jacobian: MatrixPerRow<T>;
}

/** Exactly one of z and a, and v (the upstream gradient dE/da) of the same shape. */
export interface VjpRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
  v: T;
}

export interface VjpResponse<T extends Tensor = Tensor> {
  a: T;
  /** v^T J per row (dE/dz), the shape of the input. */
  gradient: T;
}

/** Exactly one of z and a (the activation's output), and optional params. */
export interface ActivationJacobianRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
  params?: ActivationParams;
}

/** Exactly one of z and a, v (dE/da) of the same shape, and optional params. */
export interface ActivationVjpRequest<T extends Tensor = Tensor> {
  z?: T;
  a?: T;
  v: T;
  params?: ActivationParams;
}

export interface OutputLayerRequest<T extends Tensor = Tensor> {
  /** Inputs: [M] for one sample or [N][M] for a batch. */
  x: T;
  /** weights[j][k], from input j to output k: M x K. */
  weights: number[][];
  /** Bias, length K; zeros when omitted. */
  bias?: number[];
  /** Targets: [K] or [N][K], the same batch form as x. */
  targets: T;
  /** The output activation g. */
  activation: ActivationName;
  params?: ActivationParams;
  loss?: Loss;
  reduction?: Reduction;
}

export interface OutputLayerResponse<T extends Tensor = Tensor> {
  loss: number;
  z: T;
  a: T;
  /** dE/dz. */
  delta: T;
  /** dE/dW, M x K. */
  weightGradient: number[][];
  /** dE/db, length K. */
  biasGradient: number[];
  /** dE/dx, the shape of x. */
  inputGradient: T;
}

/** One dense layer of a network: z_l = h_(l-1) W_l + b_l, h_l = g_l(z_l). */
export interface NetworkLayer {
  /** weights[j][k] of this layer, from input j to output k: M_l x K_l (M_l = the previous layer's K). */
  weights: number[][];
  /** Bias, length K_l; zeros when omitted. */
  bias?: number[];
  /** The activation g_l; a hidden softmax backpropagates through its Jacobian. */
  activation: ActivationName;
  params?: ActivationParams;
}

export interface NetworkRequest<T extends Tensor = Tensor> {
  /** Inputs: [M_1] for one sample or [N][M_1] for a batch. */
  x: T;
  /** First to last, at least one. */
  layers: NetworkLayer[];
  /** Targets of the last layer: [K_L] or [N][K_L], the same batch form as x. */
  targets: T;
  loss?: Loss;
  reduction?: Reduction;
  /** Whether each layer of the reply carries z, a and delta (default true). */
  intermediates?: boolean;
}

export interface LayerGradients<T extends Tensor = Tensor> {
  /** With intermediates. */
  z?: T;
  a?: T;
  /** dE/dz_l (g_l' from z_l, never from the rounded a_l). */
  delta?: T;
  /** dE/dW_l, M_l x K_l. */
  weightGradient: number[][];
  /** dE/db_l, length K_l. */
  biasGradient: number[];
}

export interface NetworkResponse<T extends Tensor = Tensor> {
  loss: number;
  /** Per layer, first to last. */
  layers: LayerGradients<T>[];
  /** dE/dx, the shape of x. */
  inputGradient: T;
}

/** One layer's part of a direction in parameter space: the shapes of its weights and bias. */
export interface DirectionLayer {
  /** M_l x K_l. */
  weights: number[][];
  /** Length K_l; zeros when omitted. */
  bias?: number[];
}

/** A direction v in parameter space, one entry per layer. */
export interface ParameterDirection {
  layers: DirectionLayer[];
}

export interface HessianVectorRequest<T extends Tensor = Tensor> extends NetworkRequest<T> {
  vector: ParameterDirection;
  /** Default hessian. */
  curvature?: Curvature;
}

export interface LayerProducts {
  /** dE/dW_l, M_l x K_l. */
  weightGradient: number[][];
  /** dE/db_l, length K_l. */
  biasGradient: number[];
  /** (C v) for W_l, M_l x K_l. */
  weightProduct: number[][];
  /** (C v) for b_l, length K_l. */
  biasProduct: number[];
}

export interface HessianVectorResponse {
  loss: number;
  /** sum over every weight and bias of dE/dtheta v_theta. */
  directionalDerivative: number;
  /** Per layer, first to last. */
  layers: LayerProducts[];
}

/** Gradients (and, with a vector, curvature products) computed elsewhere, any subset (at least one quantity). */
export interface GivenGradients<T extends Tensor = Tensor> {
  loss?: number;
  /** Per layer, first to last; null leaves a layer unchecked. Products need the request's vector. */
  layers?: ({
    weightGradient?: number[][];
    biasGradient?: number[];
    weightProduct?: number[][];
    biasProduct?: number[];
  } | null)[];
  inputGradient?: T;
}

export interface CheckRequest<T extends Tensor = Tensor> extends NetworkRequest<T> {
  /** The direction the given products were computed along. */
  vector?: ParameterDirection;
  /** The curvature of the given products (default hessian). */
  curvature?: Curvature;
  gradients: GivenGradients<T>;
  /** Relative tolerance (default 1e-7). */
  rtol?: number;
  /** Absolute tolerance (default 0). */
  atol?: number;
}

/** One checked quantity: an entry agrees when |got - expected| <= atol + rtol |expected|. */
export interface TensorCheck {
  /** e.g. /layers/0/weightGradient. */
  path: string;
  passed: boolean;
  mismatches: number;
  maxAbsError: number;
  /** Over the entries whose expected value is not 0. */
  maxRelError: number;
  /** max |got - expected| / max |expected|. */
  normwiseRelError: number;
  /** The entry furthest outside its tolerance. */
  worst: { index: number[]; expected: number; got: number };
}

export interface CheckResponse {
  passed: boolean;
  rtol: number;
  atol: number;
  checks: TensorCheck[];
}

export interface ParamInfo {
  name: string;
  default: number;
  description: string;
  minimum?: number;
  exclusiveMinimum?: number;
}

export interface ActivationInfo {
  name: string;
  aliases: string[];
  kind: 'elementwise' | 'vector';
  params: ParamInfo[];
  formula: string;
  derivativeFormula: string;
  derivativeFromOutput: boolean;
  secondDerivativeFormula: string;
  secondDerivativeFromOutput: boolean;
  /** Where g' is continuous but g'' jumps: the value returned there and the one-sided limits. */
  secondDerivativeNote?: string;
  description: string;
  plot: string;
}

/** An RFC 9457 problem, as the service sends every 4xx and 5xx. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  requestId: string;
  /** The first few dozen validation failures; errorsOmitted counts the others. */
  errors?: { path: string; message: string }[];
  errorsOmitted?: number;
}
