/**
 * The offload pool: takes large requests off the event loop. It runs operations' jobs (src/operations) and
 * parses large JSON bodies in worker threads (src/workers/worker.ts), moving float64 buffers by transfer both
 * ways, on a ThreadPool that always settles (src/workers/thread-pool.ts). Threads start on first use, so apps
 * that never see a large request (most tests) never start one. A full queue is a 503 with Retry-After (refused
 * before any work: a repeat is welcome); a task past its timeout is a 504 without one (the work was tried, and
 * a repeat would take as long); a task whose thread failed is a 500.
 */
import { fromRecord, ServiceError } from '../errors.js';
import type { InferenceReplySpec } from '../inference/reply.js';
import type { PackedInference } from '../inference/tensor-data.js';
import { type Job, jobInputs } from '../operations/index.js';
import type { EncodedReply, ReplyFormat } from '../serialize/reply.js';
import type { OffloadConfig } from './config.js';
import type { PackedJson } from './pack-json.js';
import { PoolBusyError, PoolClosedError, TaskTimeoutError, ThreadPool } from './thread-pool.js';
import type { JobOutcome, JobOutput, Task } from './worker.js';

// From the TypeScript sources (tsx, vitest) the handler is worker.ts; built code (dist/) has worker.js.
const defaultHandler = new URL(
  import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js',
  import.meta.url,
);

/** ArrayBuffers that may move to another thread: never Buffer's shared allocation pool (a small Buffer's). */
function transferable(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of arrays)
    if (view.buffer instanceof ArrayBuffer && view.buffer.byteLength > Buffer.poolSize) out.add(view.buffer);
  return [...out];
}

/** Seconds a client is told to wait (Retry-After) when the pool is full. */
export const poolRetryAfterSeconds = 1;

/** The pool's own failures as the HTTP answer they deserve; anything else unchanged. */
export function offloadProblem(error: unknown): unknown {
  const unavailable = (detail: string) =>
    new ServiceError(503, 'not-ready', detail, undefined, { 'retry-after': String(poolRetryAfterSeconds) });
  if (error instanceof PoolBusyError)
    return unavailable(
      error.bound === 'maxQueue'
        ? `The worker pool for large requests is full (${error.queued} waiting, OFFLOAD_MAX_QUEUE); retry later.`
        : `The worker pool for large requests is full (${error.queued} waiting with ${error.queuedBytes} bytes of input, OFFLOAD_MAX_QUEUE_BYTES); retry later.`,
    );
  if (error instanceof PoolClosedError) return unavailable('The service is shutting down; retry elsewhere.');
  // 504, not 503: the service gave up on work it had taken (a gateway timeout of its own worker). A 503 with
  // Retry-After told clients to try again later, and each repeat ran to the same timeout (3 runs of one
  // 1e6-number gelu derivative at OFFLOAD_TIMEOUT_MS=40).
  if (error instanceof TaskTimeoutError)
    return new ServiceError(
      504,
      'computation-timeout',
      `The request's computation did not finish within ${error.timeoutMs} ms (OFFLOAD_TIMEOUT_MS, ${error.started ? 'running' : 'still queued'}) and was stopped; a repeat would take as long: send less per request.`,
    );
  return error;
}

/** What the pool has been given, by kind: large bodies parsed, jobs run and what they wrote. */
export interface OffloadCounts {
  'parse-json': number;
  'parse-inference': number;
  'job:json': number;
  'job:binary': number;
  'job:inference-reply': number;
}

const countKey = (task: Task): keyof OffloadCounts =>
  task.kind !== 'job' ? task.kind : `job:${typeof task.output === 'object' ? task.output.kind : task.output}`;

export class OffloadPool {
  private readonly threads: ThreadPool;
  /** Tasks handed to the threads since the pool was made (settled or not), by kind. */
  readonly counts: OffloadCounts = {
    'parse-json': 0,
    'parse-inference': 0,
    'job:json': 0,
    'job:binary': 0,
    'job:inference-reply': 0,
  };

  constructor(readonly config: OffloadConfig) {
    this.threads = new ThreadPool({
      handler: config.handler ?? defaultHandler,
      threads: config.threads,
      maxQueue: config.maxQueue,
      maxQueueBytes: config.maxQueueBytes,
      timeoutMs: config.timeoutMs,
      ...(config.heapLimitMb === undefined ? {} : { heapLimitMb: config.heapLimitMb }),
    });
  }

  /** Whether a job of this size runs in the pool. */
  offloads(size: number): boolean {
    return this.config.threshold > 0 && size >= this.config.threshold;
  }

  /** Threads alive and busy, tasks waiting. */
  get stats() {
    return this.threads.stats;
  }

  private async runTask(task: Task, transferList: ArrayBuffer[]): Promise<unknown> {
    this.counts[countKey(task)]++;
    try {
      return await this.threads.run(task, transferList);
    } catch (error) {
      throw offloadProblem(error);
    }
  }

  /**
   * Runs a job in the pool and returns its written reply. The job's input arrays are transferred: the caller
   * must not touch them afterwards.
   */
  async run(job: Job, format: ReplyFormat): Promise<EncodedReply> {
    const outcome = await this.runJob(job, format);
    const body = Buffer.from(outcome.body.buffer, outcome.body.byteOffset, outcome.body.byteLength);
    if (format === 'binary') return { format, body, headerLength: outcome.headerLength ?? 0 };
    return { format, body };
  }

  /** Runs a /v2 job in the pool and returns its written reply, JSON or binary as its outputs ask. */
  async runInference(job: Job, spec: InferenceReplySpec): Promise<EncodedReply> {
    const outcome = await this.runJob(job, spec);
    const body = Buffer.from(outcome.body.buffer, outcome.body.byteOffset, outcome.body.byteLength);
    return outcome.headerLength === undefined
      ? { format: 'json', body }
      : { format: 'binary', body, headerLength: outcome.headerLength };
  }

  private async runJob(job: Job, output: JobOutput) {
    const outcome = (await this.runTask(
      { kind: 'job', job, output },
      transferable(jobInputs(job)),
    )) as JobOutcome;
    if (!outcome.ok) throw fromRecord(outcome.error);
    return outcome;
  }

  /**
   * Parses a JSON body in the pool (the body is transferred), no array holding more than maxArrayItems;
   * fallback: parse it on the event loop.
   */
  parseJson(body: Buffer, maxArrayItems: number): Promise<{ packed: PackedJson } | { fallback: Buffer }> {
    return this.parseTask<PackedJson>({ kind: 'parse-json', body, maxArrayItems });
  }

  /**
   * Parses a whole-JSON /v2 inference request in the pool (the body is transferred), its inputs' data
   * flattened; fallback: read it on the event loop, which words any refusal.
   */
  parseInference(
    body: Buffer,
    maxElements: number,
  ): Promise<{ packed: PackedInference } | { fallback: Buffer }> {
    return this.parseTask<PackedInference>({ kind: 'parse-inference', body, maxElements });
  }

  /** A parse task: its packed result, or its body back (as a Buffer) for the event loop. */
  private async parseTask<Packed>(
    task: Extract<Task, { kind: 'parse-json' | 'parse-inference' }>,
  ): Promise<{ packed: Packed } | { fallback: Buffer }> {
    const outcome = (await this.runTask(task, transferable([task.body]))) as
      | { packed: Packed }
      | { fallback: Uint8Array };
    if ('packed' in outcome) return outcome;
    const bytes = outcome.fallback;
    return { fallback: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }

  /** Waits for the tasks under way (each bounded by its timeout), then ends the threads. */
  close(): Promise<void> {
    return this.threads.close();
  }
}
