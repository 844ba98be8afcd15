/**
 * OFFLOAD_THRESHOLD, OFFLOAD_THREADS, OFFLOAD_MAX_QUEUE, OFFLOAD_MAX_QUEUE_BYTES and OFFLOAD_TIMEOUT_MS: when a
 * request's work goes to the worker pool, how many threads the pool has, how many tasks may wait for one and
 * how much memory they may hold meanwhile, and how long a task may take; read and checked with the rest of the
 * configuration in src/config.ts.
 */
import { availableParallelism } from 'node:os';

export interface OffloadConfig {
  /**
   * Jobs that read and write at least this many numbers run in the pool (src/operations jobSize), and
   * JSON bodies of at least 8 bytes per such number are parsed there; 0 = never (everything inline).
   */
  readonly threshold: number;
  /** Worker threads; the event loop keeps one core for HTTP, so one less than the cores, at least one. */
  readonly threads: number;
  /** Tasks that may wait for a thread; beyond, a request gets 503 with Retry-After at once. */
  readonly maxQueue: number;
  /**
   * Bytes of input (a body to parse, a job's tensors) the waiting tasks may hold together; a task that would
   * take them past it gets 503 with Retry-After at once.
   */
  readonly maxQueueBytes: number;
  /** Most time a task may take, waiting included; beyond, its thread is replaced and the request gets 504. */
  readonly timeoutMs: number;
  /** V8 old-generation limit of each thread in MB (node's resourceLimits); unset: V8's default. */
  readonly heapLimitMb?: number;
  /**
   * The module that handles tasks in the threads; unset: src/workers/worker.ts. Not from the environment:
   * tests substitute a handler that misbehaves on request.
   */
  readonly handler?: URL;
}

/**
 * Tasks that may wait per thread. A waiting task costs its input (bounded apart, by maxQueueBytes) and a
 * pending request; the count only keeps the wait bounded. A small request with a large reply (a softmax
 * Jacobian of 1000 numbers writes 100,000) holds a few KB: eight clients at once must queue, not be refused.
 */
export const queuePerThread = 32;

/**
 * Bodies of BODY_LIMIT bytes that may wait per thread: a waiting task holds its input, so a few per thread keep
 * the threads busy without letting a burst of large bodies pile up in memory.
 */
export const queuedBodiesPerThread = 4;

/** The default of maxQueueBytes: queuedBodiesPerThread bodies of the body limit per thread. */
export const defaultMaxQueueBytes = (threads: number, bodyLimit: number): number =>
  queuedBodiesPerThread * threads * bodyLimit;

export const defaultOffloadConfig = (
  cpus = availableParallelism(),
  bodyLimit = 33_554_432,
): OffloadConfig => ({
  // ~50,000 sigmoid elements: a few ms of math and ~10 ms of JSON on the event loop, well past the ~0.1 ms a
  // round trip to a worker costs.
  threshold: 100_000,
  threads: Math.max(1, cpus - 1),
  maxQueue: queuePerThread * Math.max(1, cpus - 1),
  maxQueueBytes: defaultMaxQueueBytes(Math.max(1, cpus - 1), bodyLimit),
  // Far above the largest job MAX_ELEMENTS allows (seconds), far below forever.
  timeoutMs: 30_000,
});

/** Bytes of a JSON body per element of the threshold: numbers take 2-25 characters; this errs low. */
export const jsonBytesPerElement = 8;
