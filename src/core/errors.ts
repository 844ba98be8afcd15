/**
 * The finiteness check of core's results. Its error class lives with every other error of the service in
 * src/errors.ts (re-exported here for core's own modules, which raise it).
 */
import { NonFiniteResultError } from '../errors.js';

export { NonFiniteResultError };

/** Throws NonFiniteResultError when any element of data is NaN or ±Infinity. */
export function assertFinite(quantity: string, data: Float64Array | number): void {
  if (typeof data === 'number') {
    if (!Number.isFinite(data)) throw new NonFiniteResultError(quantity);
    return;
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw new NonFiniteResultError(quantity, `${quantity}[${i}] is not finite (${data[i]})`);
  }
}
