/** Piecewise-linear and piecewise-polynomial activations: exact in float64 away from their kinks. */
import type { ElementwiseActivation } from './types.js';

export const identity: ElementwiseActivation = {
  name: 'identity',
  aliases: ['linear'],
  kind: 'elementwise',
  description: 'The identity: passes z through unchanged (a linear output layer).',
  params: [],
  formula: 'g(z) = z',
  derivativeFormula: "g'(z) = 1",
  forward: (z) => z,
  derivative: () => 1,
  derivativeFromOutput: () => 1,
};

export const piecewiseFamily: readonly ElementwiseActivation[] = [identity];
