/**
 * Errors core raises for inputs that are well-formed but have no finite answer.
 * Routes map them to 422 problem+json naming `quantity`.
 */
export class NonFiniteResultError extends Error {
  constructor(
    /** The quantity that is not finite, in the contract's names: 'a', 'derivative', 'loss', 'weightGradient', ... */
    readonly quantity: string,
    detail?: string,
  ) {
    super(detail ?? `${quantity} is not finite for this input (overflow or a log of a non-positive value)`);
    this.name = 'NonFiniteResultError';
  }
}

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
