/** The shared ($id'd) schemas, added once to the app in dependency order. */
import { ActivationInfo } from './activations.js';
import { ActivationName, Matrix, Problem, Tensor } from './common.js';

export const sharedSchemas = [Tensor, Matrix, ActivationName, Problem, ActivationInfo];
