/** Gated activations z * gate(z): gelu (exact, erf), gelu_tanh, silu, mish. */
import type { ElementwiseActivation } from './types.js';

export const gatedFamily: readonly ElementwiseActivation[] = [];
