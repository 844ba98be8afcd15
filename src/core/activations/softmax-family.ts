/** Table entries for the vector activations softmax and log_softmax (kernels in ../softmax.ts). */
import {
  checkLogProbabilities,
  checkProbabilities,
  expRows,
  logSoftmaxJacobianRows,
  logSoftmaxJvpRows,
  logSoftmaxRows,
  logSoftmaxVjpDirectionalRows,
  logSoftmaxVjpRows,
  softmaxJacobianRows,
  softmaxRows,
  softmaxVjpDirectionalRows,
  softmaxVjpRows,
} from '../softmax.js';
import type { VectorActivation } from './types.js';

export const softmax: VectorActivation = {
  name: 'softmax',
  aliases: [],
  kind: 'vector',
  description:
    'Normalised exponentials over the last axis: turns a row of logits into probabilities that sum to 1. ' +
    'Computed with the largest logit subtracted, so it never overflows.',
  params: [],
  formula: 'g(z)_i = \\frac{e^{z_i}}{\\sum_{k=1}^{K} e^{z_k}}',
  derivativeFormula:
    '\\frac{\\partial a_i}{\\partial z_j} = a_i (\\delta_{ij} - a_j), \\quad ' +
    '(v^\\top J)_i = a_i \\Big(v_i - \\sum_j a_j v_j\\Big)',
  // A K x K x K tensor per row: the route refuses it and points to the network's curvature products instead.
  secondDerivativeFormula:
    '\\frac{\\partial^2 a_i}{\\partial z_j \\partial z_k} = a_i \\big[(\\delta_{ij} - a_j)(\\delta_{ik} - a_k) - a_j (\\delta_{jk} - a_k)\\big]',
  forwardRows: (z, K, out) => {
    softmaxRows(z, K, out);
  },
  backwardRows: (_z, a, v, K, out) => {
    softmaxVjpRows(a, v, K, out);
  },
  // J is symmetric, so J r is the VJP with v = r.
  forwardDirectionalRows: (_z, a, r, K, out) => {
    softmaxVjpRows(a, r, K, out);
  },
  backwardDirectionalRows: (_z, a, v, r, K, out) => {
    softmaxVjpDirectionalRows(a, softmaxVjpRows(a, r, K), v, K, out);
  },
  jacobianRows: (_z, a, K, out) => {
    softmaxJacobianRows(a, K, out);
  },
  // J = diag(a) - a a^T needs only a; a must be probabilities, or "the softmax Jacobian at a" means nothing.
  fromOutput: {
    check: checkProbabilities,
    jacobianRows: (a, K, out) => {
      softmaxJacobianRows(a, K, out);
    },
    backwardRows: (a, v, K, out) => {
      softmaxVjpRows(a, v, K, out);
    },
  },
  // Cross-entropy -sum t log a from the logits: log a = log_softmax(z), and its VJP needs only a.
  logForm: {
    forwardRows: (z, K, out) => {
      logSoftmaxRows(z, K, out);
    },
    backwardRows: (_z, a, v, K, out) => {
      logSoftmaxVjpRows(a, v, K, out);
    },
    backwardDirectionalRows: (_z, a, v, r, K, out) => {
      logSoftmaxVjpDirectionalRows(a, v, r, K, out);
    },
  },
};

export const logSoftmax: VectorActivation = {
  name: 'log_softmax',
  aliases: [],
  kind: 'vector',
  description:
    'The logarithm of softmax over the last axis, computed directly from the logits ' +
    '(z_i - max z - log(sum of the shifted exponentials)), so it stays exact where softmax underflows to 0.',
  params: [],
  formula: 'g(z)_i = z_i - \\log \\sum_{k=1}^{K} e^{z_k}',
  derivativeFormula:
    '\\frac{\\partial a_i}{\\partial z_j} = \\delta_{ij} - \\operatorname{softmax}(z)_j, \\quad ' +
    '(v^\\top J)_i = v_i - \\operatorname{softmax}(z)_i \\sum_j v_j',
  secondDerivativeFormula:
    '\\frac{\\partial^2 a_i}{\\partial z_j \\partial z_k} = -p_j (\\delta_{jk} - p_k),\\quad p = \\operatorname{softmax}(z)',
  forwardRows: (z, K, out) => {
    logSoftmaxRows(z, K, out);
  },
  // The VJP needs softmax(z); exp(a) would lose |a| ulps where a is large and negative, so recompute it.
  backwardRows: (z, _a, v, K, out) => {
    logSoftmaxVjpRows(softmaxRows(z, K), v, K, out);
  },
  forwardDirectionalRows: (z, _a, r, K, out) => {
    logSoftmaxJvpRows(softmaxRows(z, K), r, K, out);
  },
  backwardDirectionalRows: (z, _a, v, r, K, out) => {
    logSoftmaxVjpDirectionalRows(softmaxRows(z, K), v, r, K, out);
  },
  // J[i][j] = delta_ij - softmax(z)_j, from z for the same reason.
  jacobianRows: (z, _a, K, out) => {
    logSoftmaxJacobianRows(softmaxRows(z, K), K, out);
  },
  // From the log-probabilities alone: softmax = exp(a), to within |a_j| ulps of each probability.
  fromOutput: {
    check: checkLogProbabilities,
    jacobianRows: (a, K, out) => {
      logSoftmaxJacobianRows(expRows(a), K, out);
    },
    backwardRows: (a, v, K, out) => {
      logSoftmaxVjpRows(expRows(a), v, K, out);
    },
  },
};

export const softmaxFamily: readonly VectorActivation[] = [softmax, logSoftmax];
