/**
 * Tensors as the client types them: generic, so a one-sample request (`number[]`) gets one-sample replies and
 * a batch (`number[][]`) batch replies.
 */

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
