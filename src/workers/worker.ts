/**
 * The pool's worker thread: runs an operation's job (src/operations: core + finiteness checks, then the reply
 * written, or the result tensors as they are) or parses a large JSON body into float64 tensors, off the event
 * loop. Inputs arrive and results leave by transfer (the ArrayBuffers move, nothing is copied). Errors with a
 * status (ServiceError, such as NonFiniteResultError) come back as plain records, because an Error crossing
 * threads loses its class.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ServiceError, type ServiceErrorRecord, toRecord } from '../errors.js';
import { type Job, runJob } from '../operations/index.js';
import { encodeReply, type ReplyField, type ReplyFormat } from '../serialize/reply.js';
import { type PackedJson, packJson } from './pack-json.js';

/** What a job's results come back as: a written reply (/v1), or the result fields for the caller to write (/v2). */
export type JobOutput = ReplyFormat | 'fields';

export type Task =
  | { readonly kind: 'job'; readonly job: Job; readonly output: JobOutput }
  | { readonly kind: 'parse-json'; readonly body: Uint8Array };

export type JobOutcome =
  | { readonly ok: true; readonly body: Uint8Array; readonly headerLength?: number }
  | { readonly ok: true; readonly fields: readonly ReplyField[] }
  | { readonly ok: false; readonly error: ServiceErrorRecord };

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
    const fields = runJob(task.job);
    if (task.output === 'fields')
      return moving(
        { ok: true, fields },
        fields.flatMap((f) => ('data' in f ? [f.data.buffer] : [])),
      );
    const encoded = encodeReply(fields, task.output);
    const body = typeof encoded.body === 'string' ? Buffer.from(encoded.body, 'utf8') : encoded.body;
    // A Buffer this size owns its ArrayBuffer (only Buffers under 4 KiB share the allocation pool).
    const owned = body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    const outcome: JobOutcome =
      encoded.format === 'binary'
        ? { ok: true, body: owned, headerLength: encoded.headerLength }
        : { ok: true, body: owned };
    return moving(outcome, [owned.buffer]);
  } catch (error) {
    if (error instanceof ServiceError) return { ok: false, error: toRecord(error) };
    throw error;
  }
}
