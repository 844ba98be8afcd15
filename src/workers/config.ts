/**
 * OFFLOAD_THRESHOLD and OFFLOAD_THREADS: when a request's work goes to the worker pool, and how many threads
 * the pool has; read and checked with the rest of the configuration in src/config.ts.
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
}

export const defaultOffloadConfig = (cpus = availableParallelism()): OffloadConfig => ({
  // ~50,000 sigmoid elements: a few ms of math and ~10 ms of JSON on the event loop, well past the ~0.1 ms a
  // round trip to a worker costs.
  threshold: 100_000,
  threads: Math.max(1, cpus - 1),
});

/** Bytes of a JSON body per element of the threshold: numbers take 2-25 characters; this errs low. */
export const jsonBytesPerElement = 8;
