/**
 * The output layer, batched over N samples: z = x W + b, a = g(z), the loss E, delta = dE/dz,
 * weightGradient = x^T delta, biasGradient = column sums of delta, inputGradient = delta W^T.
 * It is the one-layer network (./network.ts): the same code, so the same numbers.
 *
 * Shapes (row-major): x N x M, weights M x K (weights[j][k] from input j to output k), bias K,
 * targets / z / a / delta N x K, weightGradient M x K, inputGradient N x M.
 */
import type { Activation, Params } from './activations/types.js';
import type { Loss, Reduction } from './losses.js';
import { network } from './network.js';

export interface OutputLayerInput {
  readonly x: Float64Array;
  /** Number of samples (rows of x and of targets). */
  readonly N: number;
  /** Inputs per sample (columns of x, rows of weights). */
  readonly M: number;
  readonly weights: Float64Array;
  /** Output neurons (columns of weights and of targets). */
  readonly K: number;
  /** Length K; zeros when absent. */
  readonly bias?: Float64Array;
  readonly targets: Float64Array;
  readonly activation: Activation;
  /** Resolved params of the activation (resolveParams). */
  readonly params: Params;
  readonly loss: Loss;
  readonly reduction: Reduction;
}

export interface OutputLayerResult {
  readonly loss: number;
  readonly z: Float64Array;
  readonly a: Float64Array;
  readonly delta: Float64Array;
  readonly weightGradient: Float64Array;
  readonly biasGradient: Float64Array;
  readonly inputGradient: Float64Array;
}

/**
 * Forward and backward pass of the output layer. Throws NonFiniteResultError naming the quantity ('z', 'a',
 * 'loss', 'delta', ...) when a result is not finite (overflow, or a log of a <= 0 / 1 - a <= 0 under a
 * non-zero target weight), and RangeError when the sizes disagree (routes check shapes first; this is the
 * last guard).
 */
export function outputLayer(input: OutputLayerInput): OutputLayerResult {
  const { x, N, M, weights, K, bias, targets, activation, params, loss, reduction } = input;
  const result = network({
    x,
    N,
    layers: [{ weights, M, K, bias, activation, params }],
    targets,
    loss,
    reduction,
    quantityName: (_layer, quantity) => quantity,
  });
  const [layer] = result.layers;
  return { loss: result.loss, ...layer, inputGradient: result.inputGradient };
}
