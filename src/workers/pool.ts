/**
 * The worker pool (piscina) that takes large requests off the event loop: it runs operations' jobs (src/operations)
 * and parses large JSON bodies, moving float64 buffers by transfer both ways. Threads start on first use,
 * so apps that never see a large request (most tests) never start one.
 */
import { Piscina } from 'piscina';
import { fromRecord } from '../errors.js';
import { type Job, jobInputs } from '../operations/index.js';
import type { EncodedReply, ReplyField, ReplyFormat } from '../serialize/reply.js';
import type { OffloadConfig } from './config.js';
import type { PackedJson } from './pack-json.js';
import type { JobOutcome, JobOutput, ParseOutcome, Task } from './worker.js';

// From the TypeScript sources (tsx, vitest) a thread needs tsx's loader before it can import worker.ts;
// built code (dist/) has worker.js beside this file.
const workerFile = import.meta.url.endsWith('.ts')
  ? new URL('./tsx-worker.mjs', import.meta.url).href
  : new URL('./worker.js', import.meta.url).href;

/** ArrayBuffers that may move to another thread: never Buffer's shared allocation pool (a small Buffer's). */
function transferable(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const view of arrays)
    if (view.buffer instanceof ArrayBuffer && view.buffer.byteLength > Buffer.poolSize) out.add(view.buffer);
  return [...out];
}

export class OffloadPool {
  private pool: Piscina<Task, JobOutcome | ParseOutcome> | undefined;

  constructor(readonly config: OffloadConfig) {}

  /** Whether a job of this size runs in the pool. */
  offloads(size: number): boolean {
    return this.config.threshold > 0 && size >= this.config.threshold;
  }

  private get piscina(): Piscina<Task, JobOutcome | ParseOutcome> {
    this.pool ??= new Piscina({
      filename: workerFile,
      minThreads: 0,
      maxThreads: this.config.threads,
      // Keep threads warm between bursts of large requests; they exit after a minute idle.
      idleTimeout: 60_000,
    });
    return this.pool;
  }

  /**
   * Runs a job in the pool and returns its written reply. The job's input arrays are transferred: the caller
   * must not touch them afterwards.
   */
  async run(job: Job, format: ReplyFormat): Promise<EncodedReply> {
    const outcome = await this.runTask(job, format);
    if (!('body' in outcome)) throw new Error('worker: a job asked for a reply returned fields');
    const body = Buffer.from(outcome.body.buffer, outcome.body.byteOffset, outcome.body.byteLength);
    if (format === 'binary') return { format, body, headerLength: outcome.headerLength ?? 0 };
    return { format, body };
  }

  /** Runs a job in the pool and returns its result fields (their arrays come back by transfer). */
  async runFields(job: Job): Promise<readonly ReplyField[]> {
    const outcome = await this.runTask(job, 'fields');
    if (!('fields' in outcome)) throw new Error('worker: a job asked for fields returned a reply');
    return outcome.fields;
  }

  private async runTask(job: Job, output: JobOutput) {
    const outcome = (await this.piscina.run(
      { kind: 'job', job, output },
      { transferList: transferable(jobInputs(job)) },
    )) as JobOutcome;
    if (!outcome.ok) throw fromRecord(outcome.error);
    return outcome;
  }

  /** Parses a JSON body in the pool (the body is transferred); undefined: parse it on the event loop. */
  async parseJson(body: Buffer): Promise<{ packed: PackedJson } | { fallback: Buffer }> {
    const outcome = (await this.piscina.run(
      { kind: 'parse-json', body },
      { transferList: transferable([body]) },
    )) as ParseOutcome;
    if ('packed' in outcome) return outcome;
    const bytes = outcome.fallback;
    return { fallback: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy();
  }
}
