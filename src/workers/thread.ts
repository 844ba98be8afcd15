/**
 * The entry of every pool thread (src/workers/thread-pool.ts): imports the handler module named in
 * workerData and answers each task with one message, always: { ok: true, value } when the handler returns
 * a plain value (src/workers/plain.ts), { ok: false, error: { name, message } } when it throws, returns
 * anything else, or the answer cannot be sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { plainTransferList } from './plain.js';
import {
  type ThreadData,
  type ThreadErrorRecord,
  type ThreadReply,
  type ThreadRequest,
  unreadableTaskId,
} from './thread-pool.js';

/** An error as a plain record, short whatever it was (an Error, a string, anything thrown). */
export function errorRecord(error: unknown): ThreadErrorRecord {
  try {
    const name = error instanceof Error ? String(error.name) : typeof error;
    const message = error instanceof Error ? String(error.message) : String(error);
    return { name: name.slice(0, 100), message: message.slice(0, 1000) };
  } catch {
    // A thrown value whose name, message or toString itself throws.
    return { name: 'Error', message: 'the task threw a value that cannot be described' };
  }
}

type Handler = (task: unknown) => unknown;

/** Answers each task on the port with exactly one message. */
export function serveTasks(port: NonNullable<typeof parentPort>, handle: Handler): void {
  const fail = (id: number, error: unknown) => {
    const reply: ThreadReply = { id, ok: false, error: errorRecord(error) };
    port.postMessage(reply);
  };
  port.on('message', async ({ id, task }: ThreadRequest) => {
    try {
      const value = await handle(task);
      const transfer = plainTransferList(value);
      const reply: ThreadReply = { id, ok: true, value };
      port.postMessage(reply, transfer);
    } catch (error) {
      fail(id, error);
    }
  });
  // A task this thread cannot read (too deep for its stack, say) has no readable id: answer for whichever
  // task the pool is waiting on (one at a time), or it would wait for nothing.
  port.on('messageerror', (error) => fail(unreadableTaskId, error));
}

if (parentPort && (workerData as ThreadData | undefined)?.handler) {
  const { handler } = workerData as ThreadData;
  const module = (await import(handler)) as { default: Handler };
  serveTasks(parentPort, module.default);
}
