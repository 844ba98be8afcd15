/** Activations built on exp/log: sigmoid, tanh, the ELU family, softplus, logsigmoid, tanhshrink. */
import type { ElementwiseActivation } from './types.js';

export const sigmoid: ElementwiseActivation = {
  name: 'sigmoid',
  aliases: ['logistic'],
  kind: 'elementwise',
  description: 'The logistic function, the inverse of the logit: squashes z into (0, 1).',
  params: [],
  formula: 'g(z) = \\frac{1}{1 + e^{-z}}',
  derivativeFormula: "g'(z) = g(z)\\,(1 - g(z)) = a(1 - a)",
  // PLACEHOLDER (textbook form); to be replaced by the accurate kernel.
  forward: (z) => 1 / (1 + Math.exp(-z)),
  derivative: (z) => {
    const a = 1 / (1 + Math.exp(-z));
    return a * (1 - a);
  },
  derivativeFromOutput: (a) => a * (1 - a),
};

export const exponentialFamily: readonly ElementwiseActivation[] = [sigmoid];
