/**
 * The shape of one entry of the activation table (see ./index.ts).
 * Everything outside core (routes, catalog, OpenAPI enum, param validation, golden tests)
 * is derived from these entries, so adding an activation means adding one entry.
 */

/** Resolved parameter values, keyed by ParamSpec.name; always complete (defaults filled in). */
export type Params = Readonly<Record<string, number>>;

export interface ParamSpec {
  readonly name: string;
  readonly default: number;
  readonly description: string;
  /** Inclusive lower bound, when the parameter has one. */
  readonly minimum?: number;
  /** Exclusive lower bound, when the parameter has one. */
  readonly exclusiveMinimum?: number;
}

interface ActivationMetadata {
  /** Canonical name, as in the contract (snake_case). */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  readonly params: readonly ParamSpec[];
  /** LaTeX for g(z). */
  readonly formula: string;
  /** LaTeX for g'(z) (and, where it exists, in terms of a). */
  readonly derivativeFormula: string;
  /** LaTeX for g''(z) (and, where it exists, in terms of a); for a vector activation, its K x K x K tensor. */
  readonly secondDerivativeFormula: string;
  /**
   * Constraints that involve several params at once (e.g. hardtanh's min < max).
   * Returns a message naming the params when violated, undefined when fine.
   */
  readonly checkParams?: (params: Params) => string | undefined;
}

export interface ElementwiseActivation extends ActivationMetadata {
  readonly kind: 'elementwise';
  /** a = g(z) for one element. Must be finite for every finite z where the true value is. */
  readonly forward: (z: number, params: Params) => number;
  /** g'(z) for one element; at kinks, PyTorch's autograd convention. */
  readonly derivative: (z: number, params: Params) => number;
  /** g' expressed through a = g(z), where a closed form exists (backprop has a already). */
  readonly derivativeFromOutput?: (a: number, params: Params) => number;
  /**
   * Why `a` cannot be an output of g that determines g' (e.g. sigmoid's a = 2), or undefined when it can.
   * Checked before derivativeFromOutput, so an impossible a is a 400, not a 200 with a meaningless g'.
   * Absent: every finite a is possible.
   */
  readonly outputCheck?: (a: number, params: Params) => string | undefined;
  /**
   * g''(z) for one element, within 4 ulp of the exact value (subnormal results included). 0 where g' jumps (as
   * PyTorch's double backward) and exactly 0 on linear pieces.
   */
  readonly secondDerivative: (z: number, params: Params) => number;
  /** g'' expressed through a = g(z), where a closed form exists; a passes outputCheck first. */
  readonly secondDerivativeFromOutput?: (a: number, params: Params) => number;
  /**
   * Where g' is continuous but g'' jumps (elu with alpha 1, celu, softsign at 0): which value is returned there
   * and what the one-sided limits are. Shown in the catalog.
   */
  readonly secondDerivativeNote?: string;
  /**
   * log g(z) computed from z, for activations with values in (0, 1) (cross-entropy from the logits: finite and
   * accurate where a rounds to 0 or 1). Optional; without it the losses take log(a).
   */
  readonly logForm?: ElementwiseLogForm;
  /** log(1 - g(z)) computed from z (binary cross-entropy from the logits). Optional, as logForm. */
  readonly logComplementForm?: ElementwiseLogForm;
}

/** A function of z given in log space: log f(z), and its first two derivatives in z, all from z. */
export interface ElementwiseLogForm {
  readonly forward: (z: number, params: Params) => number;
  /** d/dz log f(z) = f'(z) / f(z). */
  readonly derivative: (z: number, params: Params) => number;
  /** d^2/dz^2 log f(z): a cross-entropy's curvature in the logits (the network's Hessian-vector product). */
  readonly secondDerivative: (z: number, params: Params) => number;
}

/** out = v^T J per row of length K, in O(K) per row; `a` is the forward of z, already computed. */
export type RowsVjp = (
  z: Float64Array,
  a: Float64Array,
  v: Float64Array,
  K: number,
  out: Float64Array,
) => void;

/**
 * The derivative of v^T J(z) along a direction r of z, with v held fixed, per row of length K, in O(K) per row:
 * out = sum_i v_i (d^2 g_i / dz dz) r, the second-order term a vector g adds to the R-operator's backward pass.
 * `a` is the entry's forwardRows(z).
 */
export type RowsVjpDirectional = (
  z: Float64Array,
  a: Float64Array,
  v: Float64Array,
  r: Float64Array,
  K: number,
  out: Float64Array,
) => void;

/** log g(z) per row from the logits (e.g. log_softmax for softmax), and its vector-Jacobian product. */
export interface VectorLogForm {
  /** out = log g(z) per row of length K. */
  readonly forwardRows: (z: Float64Array, K: number, out: Float64Array) => void;
  /** out = v^T d(log g)/dz per row, O(K); `a` is the entry's own forwardRows(z). */
  readonly backwardRows: RowsVjp;
  /** backwardRows' derivative along r (cross-entropy's curvature in the logits); `a` as for backwardRows. */
  readonly backwardDirectionalRows: RowsVjpDirectional;
}

export interface VectorActivation extends ActivationMetadata {
  readonly kind: 'vector';
  /** Applies g to each row of length K of z (row-major, z.length = rows * K), writing into out. */
  readonly forwardRows: (z: Float64Array, K: number, out: Float64Array) => void;
  /**
   * Vector-Jacobian product per row: out = v^T J(z), in O(K) per row, without building J.
   * `a` is forwardRows(z) (already computed by the caller).
   */
  readonly backwardRows: RowsVjp;
  /** out = J(z) r per row, O(K): a's derivative along a direction r of z (the R-operator's forward pass). */
  readonly forwardDirectionalRows: (
    z: Float64Array,
    a: Float64Array,
    r: Float64Array,
    K: number,
    out: Float64Array,
  ) => void;
  /** backwardRows' derivative along r with v fixed (a hidden vector layer's term of the Hessian-vector product). */
  readonly backwardDirectionalRows: RowsVjpDirectional;
  /** The Jacobian per row, rows * K * K row-major (out[r*K*K + i*K + j] = da_i/dz_j); `a` is forwardRows(z). */
  readonly jacobianRows: (z: Float64Array, a: Float64Array, K: number, out: Float64Array) => void;
  /** The Jacobian and VJP from the output a alone, where a determines them (softmax: J = diag(a) - a a^T). */
  readonly fromOutput?: VectorFromOutput;
  /** log g(z) from the logits, where g maps into (0, 1] (cross-entropy from the logits). Optional. */
  readonly logForm?: VectorLogForm;
}

/** A vector activation's Jacobian and VJP computed from its output a (which must be a possible output). */
export interface VectorFromOutput {
  /** Why a row of `a` is no output of g (e.g. softmax rows must be probabilities), or undefined. */
  readonly check: (a: Float64Array, K: number) => RowProblem | undefined;
  readonly jacobianRows: (a: Float64Array, K: number, out: Float64Array) => void;
  readonly backwardRows: (a: Float64Array, v: Float64Array, K: number, out: Float64Array) => void;
}

/** Where a row check failed: the row, the entry (undefined when the row as a whole is wrong), and why. */
export interface RowProblem {
  readonly row: number;
  readonly col?: number;
  readonly message: string;
}

export type Activation = ElementwiseActivation | VectorActivation;
