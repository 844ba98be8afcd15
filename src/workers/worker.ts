/**
 * The offload pool's task handler (run in a pool thread by src/workers/thread.ts): runs an operation's job
 * (src/operations: core + finiteness checks, then the reply written, or the result tensors as they are) or
 * parses a large JSON body into float64 tensors, off the event loop. Inputs arrive and results leave by
 * transfer (the ArrayBuffers move, nothing is copied). Errors with a status (ServiceError, such as
 * NonFiniteResultError) come back as plain records, because an Error crossing threads loses its class. Every
 * answer is plain data: typed arrays and plain records, nothing a client shaped beyond the few levels
 * src/workers/plain.ts accepts.
 */
import { ServiceError, type ServiceErrorRecord, toRecord } from '../errors.js';
import { type InferenceReplySpec, writeInferenceReply } from '../inference/reply.js';
import { type PackedInference, packInference } from '../inference/tensor-data.js';
import { type Job, runJob } from '../operations/index.js';
import { encodeReply, type ReplyFormat } from '../serialize/reply.js';
import { type PackedJson, packJson } from './pack-json.js';
import { maxPlainDepth } from './plain.js';

/** What a job's results come back as: a written /v1 reply, or a written /v2 reply (InferenceReplySpec). */
export type JobOutput = ReplyFormat | InferenceReplySpec;

export type Task =
  | { readonly kind: 'job'; readonly job: Job; readonly output: JobOutput }
  | { readonly kind: 'parse-json'; readonly body: Uint8Array; readonly maxArrayItems: number }
  | { readonly kind: 'parse-inference'; readonly body: Uint8Array; readonly maxElements: number };

export type JobOutcome =
  | { readonly ok: true; readonly body: Uint8Array; readonly headerLength?: number }
  | { readonly ok: false; readonly error: ServiceErrorRecord };

/** The outcome of parse-json: the packed body, or the bytes back for the event loop's own parser. */
export type ParseOutcome = { readonly packed: PackedJson } | { readonly fallback: Uint8Array };

/** The outcome of parse-inference: the request with its inputs' data flattened, or the bytes back. */
export type InferenceParseOutcome = { readonly packed: PackedInference } | { readonly fallback: Uint8Array };

/** Levels a body's non-tensor fields may nest and still come back packed ({ packed: { values: here } }). */
const maxValueDepth = maxPlainDepth - 4;

/** Whether a parsed JSON value nests at most `limit` levels (without recursion: it may be very deep). */
function nestsAtMost(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return false;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return true;
}

function parse(body: Uint8Array, maxArrayItems: number): ParseOutcome {
  const packed = packJson(body, maxArrayItems);
  // What would not come back as plain, shallow data is parsed on the event loop instead, with the errors
  // (and limits) of a small body.
  if (!packed || !nestsAtMost(packed.values, maxValueDepth)) return { fallback: body };
  return { packed };
}

function parseInference(body: Uint8Array, maxElements: number): InferenceParseOutcome {
  const packed = packInference(body, maxElements);
  if (!packed || !nestsAtMost(packed.header, maxValueDepth)) return { fallback: body };
  return { packed };
}

/**
 * The UTF-8 bytes of a reply's text, in a buffer of their own (transferable whatever its size): sized first and
 * written in place, instead of Buffer.from's encode-and-copy. A text of numbers is ASCII (its UTF-8 length is
 * its length): written as Latin-1 then, the same bytes without UTF-8 encoding (0.03 against 0.4 ms for 2 MB).
 */
export function utf8(text: string): Uint8Array {
  const length = Buffer.byteLength(text, 'utf8');
  const bytes = Buffer.allocUnsafeSlow(length);
  bytes.write(text, length === text.length ? 'latin1' : 'utf8');
  return bytes;
}

function run(job: Job, output: JobOutput): JobOutcome {
  try {
    const fields = runJob(job);
    const encoded =
      typeof output === 'object' ? writeInferenceReply(fields, output) : encodeReply(fields, output);
    const body = typeof encoded.body === 'string' ? utf8(encoded.body) : encoded.body;
    // A Buffer this size owns its ArrayBuffer (only Buffers under 4 KiB share the allocation pool); a small one
    // is copied out so that the answer holds no view of the pool.
    const owned = body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    return encoded.format === 'binary'
      ? { ok: true, body: owned, headerLength: encoded.headerLength }
      : { ok: true, body: owned };
  } catch (error) {
    if (error instanceof ServiceError) return { ok: false, error: toRecord(error) };
    throw error;
  }
}

export default function handle(task: Task): JobOutcome | ParseOutcome | InferenceParseOutcome {
  if (task.kind === 'parse-json') return parse(task.body, task.maxArrayItems);
  if (task.kind === 'parse-inference') return parseInference(task.body, task.maxElements);
  return run(task.job, task.output);
}
