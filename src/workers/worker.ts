/**
 * The pool's worker thread: runs a job (core + finiteness checks + writing the reply) or parses a large
 * JSON body into float64 tensors, off the event loop. Inputs arrive and results leave by transfer (the
 * ArrayBuffers move, nothing is copied). Errors the contract maps to a status (NonFiniteResultError) come
 * back as values, because an Error crossing threads loses its class.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { NonFiniteResultError } from '../core/errors.js';
import { encodeReply, type ReplyFormat } from '../serialize/reply.js';
import { type Job, runJob } from './jobs.js';
import { type PackedJson, packJson } from './pack-json.js';

export type Task =
  | { readonly kind: 'job'; readonly job: Job; readonly format: ReplyFormat }
  | { readonly kind: 'parse-json'; readonly body: Uint8Array };

export type JobOutcome =
  | { readonly ok: true; readonly body: Uint8Array; readonly headerLength?: number }
  | { readonly ok: false; readonly quantity: string; readonly message: string };

/** The outcome of parse-json: the packed body, or the bytes back for the event loop's own parser. */
export type ParseOutcome = { readonly packed: PackedJson } | { readonly fallback: Uint8Array };

function moving<T>(value: T, buffers: ArrayBufferLike[]) {
  return move({ [transferableSymbol]: [...new Set(buffers)], [valueSymbol]: value } as never) as unknown as T;
}

export default function handle(task: Task): JobOutcome | ParseOutcome {
  if (task.kind === 'parse-json') {
    const packed = packJson(task.body);
    if (!packed) return moving({ fallback: task.body }, [task.body.buffer]);
    return moving(
      { packed },
      packed.tensors.map((t) => t.data.buffer),
    );
  }
  try {
    const encoded = encodeReply(runJob(task.job), task.format);
    const body = typeof encoded.body === 'string' ? Buffer.from(encoded.body, 'utf8') : encoded.body;
    // A Buffer this size owns its ArrayBuffer (only Buffers under 4 KiB share the allocation pool).
    const owned = body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    const outcome: JobOutcome =
      encoded.format === 'binary'
        ? { ok: true, body: owned, headerLength: encoded.headerLength }
        : { ok: true, body: owned };
    return moving(outcome, [owned.buffer]);
  } catch (error) {
    if (error instanceof NonFiniteResultError)
      return { ok: false, quantity: error.quantity, message: error.message };
    throw error;
  }
}
