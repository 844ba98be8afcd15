/** The shared ($id'd) schemas, added once to the app in dependency order. */
import { ActivationInfo } from './activations.js';
import { ActivationName, Matrix, Problem, Tensor } from './common.js';
import { InferenceErrorBody } from './responses.js';

export const sharedSchemas = [Tensor, Matrix, ActivationName, Problem, InferenceErrorBody, ActivationInfo];
