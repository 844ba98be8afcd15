/**
 * Why src/workers/thread-pool.ts is ours and not piscina 5: an answer that reaches the main thread but cannot
 * be read there ('messageerror') leaves piscina's task unsettled for ever (piscina has no messageerror handler
 * and no task deadline of its own), where our pool rejects it (thread-pool.test.ts, "rejects when the answer
 * reaches the main thread but cannot be read"). A request whose task never settles is a request that hangs.
 */
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';

const pools: Piscina[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

describe('piscina 5 and an unreadable answer', () => {
  it('never settles the task: after the answer was posted and many turns of the loop, it is still pending', async () => {
    const pool = new Piscina({
      filename: new URL('../support/piscina-deep-answer.mjs', import.meta.url).href,
      maxThreads: 1,
      minThreads: 1,
    });
    pools.push(pool);
    const posted = new Int32Array(new SharedArrayBuffer(4));
    let state = 'pending';
    const task = pool.run({ depth: 3000, posted }).then(
      () => {
        state = 'resolved';
      },
      () => {
        state = 'rejected';
      },
    );
    while (Atomics.load(posted, 0) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    // The answer has been posted; give the main thread every chance to read it and settle the task.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(state).toBe('pending');
    // And its one thread stays taken by the lost task: the next task waits behind it, for ever too.
    const next = pool.run({ depth: 10, posted }).catch(() => {});
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pool.queueSize).toBe(1);
    void task;
    void next; // both are rejected when afterEach destroys the pool
  });
});
