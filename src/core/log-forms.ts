/**
 * The log forms an output layer uses for cross-entropy from the logits: log g(z) and log(1 - g(z)) computed
 * from z, with their derivatives (see ElementwiseLogForm in ./activations/types.ts).
 *
 * An entry's own `logForm` / `logComplementForm` always win. `pending` holds the forms of entries whose file
 * cannot carry them yet (sigmoid: ./activations/exponential.ts is being rewritten). To move sigmoid's into
 * its entry, add to it
 *   logForm: { forward: (z) => logsigmoidKernel(z), derivative: (z) => sigmoidKernel(-z) },
 *   logComplementForm: { forward: (z) => logsigmoidKernel(-z), derivative: (z) => -sigmoidKernel(z) },
 * and delete its key below.
 */
import { findActivation } from './activations/index.js';
import type { ElementwiseActivation, ElementwiseLogForm, Params } from './activations/types.js';

export interface ElementwiseLogForms {
  readonly logForm?: ElementwiseLogForm;
  readonly logComplementForm?: ElementwiseLogForm;
}

/** The table's forward kernel of an elementwise entry (looked up when used, so the table can load first). */
function tableForward(name: string): (z: number, params: Params) => number {
  const entry = findActivation(name);
  if (entry?.kind !== 'elementwise')
    throw new Error(`the activation table has no elementwise '${name}', which a log form needs`);
  return entry.forward;
}

const pending: Readonly<Record<string, (entry: ElementwiseActivation) => ElementwiseLogForms>> = {
  // log sigma(z) = logsigmoid(z), (log sigma)'(z) = sigma(-z); log(1 - sigma(z)) = log sigma(-z) = logsigmoid(-z),
  // whose derivative is -sigma(z). Each is finite and accurate where sigma(z) rounds to 0 or 1.
  sigmoid: (entry) => {
    const sigmoid = entry.forward;
    const logsigmoid = tableForward('logsigmoid');
    return {
      logForm: {
        forward: (z, params) => logsigmoid(z, params),
        derivative: (z, params) => sigmoid(-z, params),
      },
      logComplementForm: {
        forward: (z, params) => logsigmoid(-z, params),
        derivative: (z, params) => -sigmoid(z, params),
      },
    };
  },
};

/** The log forms of an elementwise entry: its own, else the pending ones for its name, else none. */
export function elementwiseLogForms(entry: ElementwiseActivation): ElementwiseLogForms {
  if (entry.logForm || entry.logComplementForm)
    return { logForm: entry.logForm, logComplementForm: entry.logComplementForm };
  return Object.hasOwn(pending, entry.name) ? pending[entry.name](entry) : {};
}
