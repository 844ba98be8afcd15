/** Table entries for the vector activations softmax and log_softmax (kernels in ../softmax.ts). */
import type { VectorActivation } from './types.js';

export const softmaxFamily: readonly VectorActivation[] = [];
