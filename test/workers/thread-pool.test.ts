/**
 * The thread pool settles every task whatever its thread does: throws, loops, exits, runs out of memory,
 * returns something that is not plain data, or sends an answer the main thread cannot read. The queue is
 * bounded, a task past its deadline frees its thread, dead and stuck threads are replaced. Runs real
 * threads on a handler that misbehaves on request (test/support/hostile-tasks.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  PoolBusyError,
  PoolClosedError,
  TaskFailedError,
  TaskTimeoutError,
  ThreadPool,
  type ThreadPoolOptions,
} from '../../src/workers/thread-pool.js';
import type { HostileTask } from '../support/hostile-tasks.js';

const handler = new URL('../support/hostile-tasks.ts', import.meta.url);
const pools: ThreadPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function makePool(options: Partial<ThreadPoolOptions> = {}): ThreadPool {
  // The timeout is generous unless a test is about it: a failure must come from the failure itself.
  const pool = new ThreadPool({ handler, threads: 1, maxQueue: 4, timeoutMs: 20_000, ...options });
  pools.push(pool);
  return pool;
}
const run = (pool: ThreadPool, task: HostileTask, transfer: ArrayBuffer[] = [], timeoutMs?: number) =>
  pool.run(task, transfer, timeoutMs);

/** The pool still works: a task answers, with its typed array intact. */
async function expectHealthy(pool: ThreadPool) {
  const data = new Float64Array([1, 2.5, -3]);
  const answer = (await run(pool, { kind: 'echo', data })) as { data: Float64Array; doubled: Float64Array };
  expect(answer.data).toBeInstanceOf(Float64Array);
  expect([...answer.doubled]).toEqual([2, 5, -6]);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the task to reject, it resolved');
}

describe('every task settles', () => {
  it('answers plain data, moving typed arrays by transfer', async () => {
    const pool = makePool();
    const data = new Float64Array(4096).fill(0.25);
    const answer = (await run(pool, { kind: 'echo', data }, [data.buffer])) as { doubled: Float64Array };
    expect(data.byteLength).toBe(0); // moved, not copied
    expect(answer.doubled.length).toBe(4096);
    expect(answer.doubled[4095]).toBe(0.5);
  });

  it('keeps shared references and cycles in an answer (plain data all the same)', async () => {
    const pool = makePool();
    const answer = (await run(pool, { kind: 'shared' })) as Record<string, unknown>;
    expect(answer.dims).toEqual([2, 3]);
    expect(answer.again).toBe(answer.dims);
    expect(answer.self).toBe(answer);
  });

  it('rejects with the thrown error as a record, and the thread serves the next task', async () => {
    const pool = makePool();
    const error = await failure(run(pool, { kind: 'throw' }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).remoteName).toBe('RangeError');
    expect(error.message).toMatch(/deliberately thrown/);
    const [before] = pool.threadIds;
    await expectHealthy(pool);
    expect(pool.threadIds).toEqual([before]);
  });

  it('rejects when the thrown value cannot even be described', async () => {
    const pool = makePool();
    const error = await failure(run(pool, { kind: 'throw-undescribable' }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/cannot be described/);
    await expectHealthy(pool);
  });

  it.each([
    ['a function', { kind: 'return-function' } as const, /\/f is a function/],
    ['a Map', { kind: 'return-instance' } as const, /\/when is a Map, not plain data/],
    ['data nested 100 deep', { kind: 'return-deep', depth: 100 } as const, /nests deeper than 32 levels/],
    ['data nested 1e5 deep', { kind: 'return-deep', depth: 100_000 } as const, /nests deeper than 32 levels/],
  ])('rejects an answer that is %s (not plain data) instead of sending it', async (_, task, message) => {
    const pool = makePool();
    const error = await failure(run(pool, task));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).remoteName).toBe('UnsendableValueError');
    expect(error.message).toMatch(message);
    await expectHealthy(pool);
  });

  it('rejects when the answer reaches the main thread but cannot be read (messageerror)', async () => {
    const pool = makePool();
    // 3,000 levels: the thread's 4 MB stack serializes it, the main thread's smaller one cannot deserialize
    // it, as with the body. Without a messageerror handler this task would only end by its timeout.
    const error = await failure(run(pool, { kind: 'post-unreadable', depth: 3000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/could not be read/);
    await expectHealthy(pool);
  });

  it('rejects a task that cannot be sent, without losing the thread', async () => {
    const pool = makePool();
    await expectHealthy(pool);
    const [before] = pool.threadIds;
    const error = await failure(pool.run({ kind: 'echo', data: () => 1 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/could not be sent/);
    await expectHealthy(pool);
    expect(pool.threadIds).toEqual([before]);
  });
});

describe('dead and stuck threads', () => {
  it('a thread that calls process.exit rejects its task and is replaced', async () => {
    const pool = makePool();
    await expectHealthy(pool);
    const [before] = pool.threadIds;
    const error = await failure(run(pool, { kind: 'exit', code: 3 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/exited with code 3/);
    await expectHealthy(pool);
    expect(pool.threadIds).toHaveLength(1);
    expect(pool.threadIds[0]).not.toBe(before);
  });

  it('a thread that runs out of memory rejects its task (the process lives on) and is replaced', async () => {
    const pool = makePool({ heapLimitMb: 32 });
    const error = await failure(run(pool, { kind: 'oom' }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/memory/i);
    await expectHealthy(pool);
  });

  it('an error thrown outside the task (uncaught in the thread) rejects the task', async () => {
    const pool = makePool();
    const error = await failure(run(pool, { kind: 'uncaught-later' }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toMatch(/thrown outside the task/);
    await expectHealthy(pool);
  });

  it('a task that never returns times out; its thread is terminated and replaced', async () => {
    const pool = makePool();
    await expectHealthy(pool);
    const [before] = pool.threadIds;
    // A deadline of its own for this task; the pool's (20 s) leaves the new thread all the time it needs.
    const error = await failure(run(pool, { kind: 'loop' }, [], 300));
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 300, started: true });
    expect(pool.stats).toMatchObject({ busy: 0, queued: 0 });
    await expectHealthy(pool);
    expect(pool.threadIds).toHaveLength(1);
    expect(pool.threadIds[0]).not.toBe(before);
  });

  it('a task that waits behind a stuck one times out from the queue when its deadline comes first', async () => {
    const pool = makePool();
    const stuck = failure(run(pool, { kind: 'loop' }, [], 1000));
    const waiting = failure(run(pool, { kind: 'sleep', ms: 1 }, [], 200));
    expect(pool.stats.queued).toBe(1);
    expect(await waiting).toMatchObject({ name: 'TaskTimeoutError', timeoutMs: 200, started: false });
    expect(pool.stats).toMatchObject({ busy: 1, queued: 0 });
    expect(await stuck).toMatchObject({ name: 'TaskTimeoutError', timeoutMs: 1000, started: true });
    await expectHealthy(pool);
  });
});

describe('a bounded queue', () => {
  it('rejects at once with PoolBusyError when maxQueue tasks already wait; the others all finish', async () => {
    const pool = makePool({ threads: 2, maxQueue: 2 });
    const accepted = [1, 2, 3, 4].map((i) => run(pool, { kind: 'sleep', ms: 100 + i }));
    expect(pool.stats).toMatchObject({ threads: 2, busy: 2, queued: 2 });
    const refused = await failure(run(pool, { kind: 'sleep', ms: 1 }));
    expect(refused).toBeInstanceOf(PoolBusyError);
    expect(refused).toMatchObject({ queued: 2, bound: 'maxQueue' });
    expect(await Promise.all(accepted)).toEqual([101, 102, 103, 104].map((ms) => ({ slept: ms })));
    expect(pool.stats).toMatchObject({ busy: 0, queued: 0 });
  });

  it('maxQueueBytes: tasks holding large buffers are refused past it, small ones still wait', async () => {
    const pool = makePool({ threads: 1, maxQueue: 10, maxQueueBytes: 3 * 65_536 });
    const running = run(pool, { kind: 'sleep', ms: 300 });
    const large = () => {
      const data = new Float64Array(8192); // 64 KiB
      return run(pool, { kind: 'echo', data }, [data.buffer]);
    };
    const accepted = [large(), large(), large()];
    expect(pool.stats).toMatchObject({ busy: 1, queued: 3, queuedBytes: 3 * 65_536 });
    const refused = await failure(large());
    expect(refused).toBeInstanceOf(PoolBusyError);
    expect(refused).toMatchObject({ queued: 3, queuedBytes: 3 * 65_536, bound: 'maxQueueBytes' });
    // A task that holds no buffer costs the queue nothing: it still waits, up to maxQueue.
    const small = run(pool, { kind: 'sleep', ms: 1 });
    expect(pool.stats.queued).toBe(4);
    expect(await running).toEqual({ slept: 300 });
    for (const answer of await Promise.all(accepted))
      expect((answer as { doubled: Float64Array }).doubled).toHaveLength(8192);
    expect(await small).toEqual({ slept: 1 });
    expect(pool.stats).toMatchObject({ busy: 0, queued: 0, queuedBytes: 0 });
  });

  it('maxQueue 0: a task runs only when a thread is free', async () => {
    const pool = makePool({ threads: 1, maxQueue: 0 });
    const first = run(pool, { kind: 'sleep', ms: 50 });
    expect(await failure(run(pool, { kind: 'sleep', ms: 1 }))).toBeInstanceOf(PoolBusyError);
    await first;
    await expectHealthy(pool);
  });
});

describe('close', () => {
  it('lets running and queued tasks finish, refuses new ones, then ends every thread', async () => {
    const pool = makePool({ threads: 1 });
    const running = run(pool, { kind: 'sleep', ms: 100 });
    const queued = run(pool, { kind: 'sleep', ms: 10 });
    const closed = pool.close();
    expect(await failure(run(pool, { kind: 'sleep', ms: 1 }))).toBeInstanceOf(PoolClosedError);
    expect(await running).toEqual({ slept: 100 });
    expect(await queued).toEqual({ slept: 10 });
    await closed;
    expect(pool.stats).toEqual({ threads: 0, busy: 0, queued: 0, queuedBytes: 0 });
  });
});
