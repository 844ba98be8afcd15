/**
 * A pool-thread handler that misbehaves on request, for the pool's tests (test/workers/thread-pool.test.ts):
 * every way a task can fail to give a plain answer. Run by src/workers/thread.ts like the real handler.
 */
import { parentPort } from 'node:worker_threads';

export type HostileTask =
  | { kind: 'echo'; data: Float64Array }
  | { kind: 'sleep'; ms: number }
  | { kind: 'throw' }
  | { kind: 'throw-undescribable' }
  | { kind: 'loop' }
  | { kind: 'exit'; code: number }
  | { kind: 'oom' }
  | { kind: 'uncaught-later' }
  | { kind: 'return-function' }
  | { kind: 'return-instance' }
  | { kind: 'return-deep'; depth: number }
  | { kind: 'post-unreadable'; depth: number }
  | { kind: 'thread-id' }
  | { kind: 'shared' };

/** An object nested `depth` levels, built without recursion. */
export function nested(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i++) node = { a: node };
  return node;
}

export default async function handle(task: HostileTask): Promise<unknown> {
  switch (task.kind) {
    case 'echo':
      return { data: task.data, doubled: task.data.map((v) => 2 * v) };
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, task.ms));
      return { slept: task.ms };
    case 'throw':
      throw new RangeError('deliberately thrown');
    case 'throw-undescribable':
      throw {
        toString() {
          throw new Error('no description either');
        },
      };
    case 'loop':
      for (;;);
    case 'exit':
      process.exit(task.code);
      break;
    case 'oom': {
      const hoard: number[][] = [];
      for (;;) hoard.push(Array.from({ length: 1e5 }, (_, i) => i + 0.5));
    }
    case 'uncaught-later':
      setTimeout(() => {
        throw new Error('thrown outside the task');
      }, 1);
      return new Promise(() => {});
    case 'return-function':
      return { f: () => 1 };
    case 'return-instance':
      return { when: new Map([[1, 2]]) };
    case 'return-deep':
      return nested(task.depth);
    case 'post-unreadable':
      // Bypasses thread.ts's check: this thread's larger stack serializes what the main thread cannot read.
      parentPort?.postMessage({ id: -1, ok: true, value: nested(task.depth) });
      return new Promise(() => {});
    case 'shared': {
      // Not misbehaving: shared references and a cycle are plain data that structured clone keeps.
      const dims = [2, 3];
      const node: Record<string, unknown> = { dims, again: dims };
      node.self = node;
      return node;
    }
    case 'thread-id':
      return { threadId: (await import('node:worker_threads')).threadId };
  }
}
