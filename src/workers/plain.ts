/**
 * Plain data, what a pool thread may send back (src/workers/thread.ts): what crosses threads intact and
 * cheaply. Primitives, typed arrays, arrays and records with Object's prototype (or none), nested at most
 * maxPlainDepth levels. Typed arrays that own their whole ArrayBuffer move by transfer (nothing copied);
 * others are copied. No side effects here: both a thread's entry and its handler import this module.
 */

/** Deepest nesting of an answer: results are records of tensors, a few levels; a body's fields are checked too. */
export const maxPlainDepth = 32;

/** The answer is not plain data: a class instance, a function, or too deep. */
export class UnsendableValueError extends Error {
  constructor(path: string, reason: string) {
    super(`the answer at ${path || '(root)'} ${reason}`);
    this.name = 'UnsendableValueError';
  }
}

/**
 * The buffers to transfer for an answer, after checking (without recursion: the depth is bounded but the
 * walk must not be the thing that overflows) that it is plain data; throws UnsendableValueError otherwise.
 */
export function plainTransferList(value: unknown, maxDepth = maxPlainDepth): ArrayBuffer[] {
  const transfer = new Set<ArrayBuffer>();
  // Structured clone keeps shared references (and cycles): walk each object once.
  const seen = new Set<object>();
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: node, path, depth } = stack.pop() as (typeof stack)[number];
    if (node === null || node === undefined) continue;
    const type = typeof node;
    if (type === 'number' || type === 'string' || type === 'boolean' || type === 'bigint') continue;
    if (type !== 'object') throw new UnsendableValueError(path, `is a ${type}`);
    if (ArrayBuffer.isView(node)) {
      const buffer = node.buffer;
      if (buffer instanceof ArrayBuffer && node.byteOffset === 0 && node.byteLength === buffer.byteLength)
        transfer.add(buffer);
      continue;
    }
    if (depth >= maxDepth) throw new UnsendableValueError(path, `nests deeper than ${maxDepth} levels`);
    const proto = Object.getPrototypeOf(node);
    if (!Array.isArray(node) && proto !== Object.prototype && proto !== null)
      throw new UnsendableValueError(
        path,
        `is a ${proto?.constructor?.name ?? 'class instance'}, not plain data`,
      );
    if (seen.has(node as object)) continue;
    seen.add(node as object);
    for (const key of Object.keys(node as object))
      stack.push({ value: (node as Record<string, unknown>)[key], path: `${path}/${key}`, depth: depth + 1 });
  }
  return [...transfer];
}
