/**
 * A pool of worker threads that always settles: every task resolves or rejects, whatever the thread does.
 *
 * - One task per thread at a time, so any answer, error or exit of a thread belongs to the task it runs.
 * - A task's answer is a plain value (typed arrays, plain records, primitives); the thread checks it before
 *   sending (src/workers/thread.ts) and sends an error record instead of anything else. An answer the main
 *   thread still cannot read ('messageerror') rejects the task.
 * - Every task has a deadline (timeoutMs from submission): queued, it leaves the queue; running, its thread
 *   is terminated (a loop never yields otherwise) and a new one starts for the next task.
 * - The queue is bounded by count and by memory: past maxQueue waiting tasks, or past maxQueueBytes of buffers
 *   held by the waiting tasks (their transfer lists: what a waiting task keeps alive), run() rejects at once
 *   with PoolBusyError. Many small tasks may wait where few large ones may.
 * - A thread that dies (process.exit, an uncaught error, out of memory) rejects its task and is replaced.
 * - Nothing of a task is kept after it settles (the queue entry, the thread's reference, the timer go).
 *
 * The task is any value structured clone can copy; the thread module's default export handles it.
 *
 * Kept rather than piscina 5, which lacks two of these: an answer the main thread cannot read leaves piscina's
 * task pending for ever and its thread taken (it has no 'messageerror' handler and no deadline of its own:
 * test/workers/piscina-comparison.test.ts, `npx vitest run --project unit test/workers/piscina-comparison.test.ts`),
 * and its maxQueue counts tasks only, where a queue of large bodies must be bounded by their bytes.
 */
import { Worker } from 'node:worker_threads';

/** What the pool sends a thread: the task, numbered so that a late answer is never taken for the next one's. */
export interface ThreadRequest {
  readonly id: number;
  readonly task: unknown;
}

/** The id of the answer to a task the thread could not read (so could not learn its id). */
export const unreadableTaskId = -1;

/** What a thread sends back for a task (src/workers/thread.ts). */
export type ThreadReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ThreadErrorRecord };

/** An error as it crosses threads: an Error loses its class, so its name and message travel as data. */
export interface ThreadErrorRecord {
  readonly name: string;
  readonly message: string;
}

/** The data each thread starts with: which module handles its tasks. */
export interface ThreadData {
  readonly handler: string;
}

/** The queue is full: the caller should answer 503 and let the client retry later. */
export class PoolBusyError extends Error {
  constructor(
    /** Tasks waiting when this one was refused. */
    readonly queued: number,
    /** Bytes of buffers they held. */
    readonly queuedBytes: number,
    /** Which bound refused it: the count of waiting tasks, or the bytes they (with this one) would hold. */
    readonly bound: 'maxQueue' | 'maxQueueBytes',
  ) {
    super(
      bound === 'maxQueue'
        ? `the worker pool is busy: ${queued} tasks are already waiting`
        : `the worker pool is busy: the ${queued} waiting tasks already hold ${queuedBytes} bytes`,
    );
    this.name = 'PoolBusyError';
  }
}

/** The task did not settle within timeoutMs (waiting included); its thread, if it had one, was terminated. */
export class TaskTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly started: boolean,
  ) {
    super(`the task did not finish within ${timeoutMs} ms (${started ? 'running' : 'still queued'})`);
    this.name = 'TaskTimeoutError';
  }
}

/** The task failed in its thread: it threw, its answer could not cross threads, or the thread died. */
export class TaskFailedError extends Error {
  constructor(
    message: string,
    /** The name of the error thrown in the thread, when it threw one. */
    readonly remoteName?: string,
  ) {
    super(message);
    this.name = 'TaskFailedError';
  }
}

/** The pool is closed: no new tasks. */
export class PoolClosedError extends Error {
  constructor() {
    super('the worker pool is closed');
    this.name = 'PoolClosedError';
  }
}

export interface ThreadPoolOptions {
  /** The module whose default export handles a task in the thread (.ts from the sources, .js when built). */
  readonly handler: URL;
  /** Most threads at once; they start on demand. */
  readonly threads: number;
  /** Most tasks waiting for a thread; beyond, run() rejects with PoolBusyError. */
  readonly maxQueue: number;
  /**
   * Most bytes of buffers (transfer lists) the waiting tasks may hold together; a task that would take them
   * past it is refused with PoolBusyError. Unset: no bound but maxQueue.
   */
  readonly maxQueueBytes?: number;
  /** Most time a task may take from run() to its answer, waiting included. */
  readonly timeoutMs: number;
  /** A thread idle this long exits (a new one starts on demand). */
  readonly idleTimeoutMs?: number;
  /** V8 old-generation limit of each thread (node's resourceLimits); past it the thread dies, not the process. */
  readonly heapLimitMb?: number;
}

interface Pending {
  readonly id: number;
  readonly task: unknown;
  readonly transferList: readonly ArrayBuffer[];
  /** Bytes of the buffers in transferList: what the task keeps alive while it waits. */
  readonly bytes: number;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  thread?: Thread;
  settled: boolean;
}

interface Thread {
  readonly worker: Worker;
  task?: Pending;
  idleTimer?: NodeJS.Timeout;
}

// A .ts handler (tests, tsx) needs tsx's loader in the thread first; built code starts thread.js directly.
const sourceEntry = new URL('./tsx-thread.mjs', import.meta.url);
const builtEntry = new URL('./thread.js', import.meta.url);

export class ThreadPool {
  private readonly threads = new Set<Thread>();
  private readonly queue: Pending[] = [];
  private closed = false;
  private readonly idleTimeoutMs: number;
  private drained: (() => void) | undefined;
  private lastId = 0;

  constructor(readonly options: ThreadPoolOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  /** Threads alive, tasks waiting and the bytes they hold, for metrics and tests. */
  get stats(): { threads: number; busy: number; queued: number; queuedBytes: number } {
    let busy = 0;
    for (const thread of this.threads) if (thread.task) busy++;
    return { threads: this.threads.size, busy, queued: this.queue.length, queuedBytes: this.queuedBytes() };
  }

  private queuedBytes(): number {
    let bytes = 0;
    for (const pending of this.queue) bytes += pending.bytes;
    return bytes;
  }

  /** The ids of the live threads (tests check that a dead or stuck one was replaced). */
  get threadIds(): number[] {
    return [...this.threads].map((t) => t.worker.threadId);
  }

  /**
   * Runs a task and resolves with the thread's plain answer. The buffers in transferList move to the thread:
   * the caller must not touch them afterwards. timeoutMs overrides the pool's deadline for this task.
   */
  run(
    task: unknown,
    transferList: readonly ArrayBuffer[] = [],
    timeoutMs = this.options.timeoutMs,
  ): Promise<unknown> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const idle = this.idleThread();
    let bytes = 0;
    for (const buffer of transferList) bytes += buffer.byteLength;
    if (!idle && this.threads.size >= this.options.threads) {
      const queuedBytes = this.queuedBytes();
      if (this.queue.length >= this.options.maxQueue)
        return Promise.reject(new PoolBusyError(this.queue.length, queuedBytes, 'maxQueue'));
      if (queuedBytes + bytes > (this.options.maxQueueBytes ?? Number.POSITIVE_INFINITY))
        return Promise.reject(new PoolBusyError(this.queue.length, queuedBytes, 'maxQueueBytes'));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: ++this.lastId,
        task,
        transferList,
        bytes,
        resolve,
        reject,
        settled: false,
        timeoutMs,
        timer: setTimeout(() => this.timeOut(pending), timeoutMs),
      };
      try {
        const thread = idle ?? (this.threads.size < this.options.threads ? this.spawn() : undefined);
        if (thread) this.dispatch(thread, pending);
        else this.queue.push(pending);
      } catch (error) {
        this.fail(pending, new TaskFailedError(`no thread could start: ${(error as Error).message}`));
      }
    });
  }

  /**
   * Takes no new tasks, lets the queued and running ones finish (each bounded by its timeout), then ends
   * every thread.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length > 0 || this.stats.busy > 0)
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    await Promise.all([...this.threads].map((thread) => this.retire(thread)));
  }

  private idleThread(): Thread | undefined {
    for (const thread of this.threads) if (!thread.task) return thread;
    return undefined;
  }

  private spawn(): Thread {
    const handler = this.options.handler;
    const entry = handler.pathname.endsWith('.ts') ? sourceEntry : builtEntry;
    const workerData: ThreadData = { handler: handler.href };
    const worker = new Worker(entry, {
      workerData,
      ...(this.options.heapLimitMb
        ? { resourceLimits: { maxOldGenerationSizeMb: this.options.heapLimitMb } }
        : {}),
    });
    const thread: Thread = { worker };
    this.threads.add(thread);
    worker.on('message', (reply: ThreadReply) => {
      const pending = thread.task;
      if (!pending || (reply?.id !== pending.id && !(reply?.id === unreadableTaskId && !reply.ok))) return;
      if (reply?.ok === true) this.finish(thread, pending, undefined, reply.value);
      else
        this.finish(
          thread,
          pending,
          new TaskFailedError(
            `the task failed in its thread: ${reply?.error?.name}: ${reply?.error?.message}`,
            String(reply?.error?.name),
          ),
        );
    });
    // The thread's answer reached this thread but could not be deserialized (too deep for this stack, say).
    worker.on('messageerror', (error) => {
      const pending = thread.task;
      if (pending)
        this.finish(
          thread,
          pending,
          new TaskFailedError(`the task's answer could not be read: ${error.message}`),
        );
    });
    // An uncaught error or running out of memory: 'exit' follows, which settles the task.
    worker.on('error', (error) => {
      const pending = thread.task;
      if (pending) this.fail(pending, new TaskFailedError(`the task's thread failed: ${error.message}`));
    });
    worker.on('exit', (code) => {
      this.threads.delete(thread);
      clearTimeout(thread.idleTimer);
      const pending = thread.task;
      thread.task = undefined;
      if (pending) this.fail(pending, new TaskFailedError(`the task's thread exited with code ${code}`));
      this.pump();
    });
    worker.unref();
    return thread;
  }

  private dispatch(thread: Thread, pending: Pending): void {
    clearTimeout(thread.idleTimer);
    thread.idleTimer = undefined;
    thread.task = pending;
    pending.thread = thread;
    // A busy thread keeps the process alive (its caller awaits it); an idle one does not.
    thread.worker.ref();
    try {
      const request: ThreadRequest = { id: pending.id, task: pending.task };
      thread.worker.postMessage(request, pending.transferList as ArrayBuffer[]);
    } catch (error) {
      // The task itself cannot be cloned (a function in it, say): the thread never saw it.
      this.finish(
        thread,
        pending,
        new TaskFailedError(`the task could not be sent: ${(error as Error).message}`),
      );
    }
  }

  /** Settles a task whose thread answered, and hands the thread the next task. */
  private finish(thread: Thread, pending: Pending, error: Error | undefined, value?: unknown): void {
    thread.task = undefined;
    if (error) this.fail(pending, error);
    else this.succeed(pending, value);
    thread.worker.unref();
    this.pump();
  }

  private succeed(pending: Pending, value: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    pending.thread = undefined;
    pending.resolve(value);
  }

  private fail(pending: Pending, error: Error): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    pending.thread = undefined;
    pending.reject(error);
  }

  private timeOut(pending: Pending): void {
    const thread = pending.thread;
    if (thread) {
      // Still running: a synchronous loop never gives the thread back, so end it; the next task gets a new one.
      thread.task = undefined;
      this.threads.delete(thread);
      void thread.worker.terminate();
    } else {
      const at = this.queue.indexOf(pending);
      if (at >= 0) this.queue.splice(at, 1);
    }
    this.fail(pending, new TaskTimeoutError(pending.timeoutMs, thread !== undefined));
    this.pump();
  }

  /** Gives waiting tasks to idle threads (starting threads up to the limit); idle threads get a timer. */
  private pump(): void {
    while (this.queue.length > 0) {
      let thread: Thread | undefined;
      try {
        thread = this.idleThread() ?? (this.threads.size < this.options.threads ? this.spawn() : undefined);
      } catch (error) {
        this.fail(
          this.queue.shift() as Pending,
          new TaskFailedError(`no thread could start: ${(error as Error).message}`),
        );
        continue;
      }
      if (!thread) break;
      this.dispatch(thread, this.queue.shift() as Pending);
    }
    for (const thread of this.threads)
      if (!thread.task && !thread.idleTimer && !this.closed) {
        thread.idleTimer = setTimeout(() => {
          thread.idleTimer = undefined;
          if (!thread.task) void this.retire(thread);
        }, this.idleTimeoutMs);
        thread.idleTimer.unref();
      }
    if (this.drained && this.queue.length === 0 && this.stats.busy === 0) {
      const drained = this.drained;
      this.drained = undefined;
      drained();
    }
  }

  private async retire(thread: Thread): Promise<void> {
    this.threads.delete(thread);
    clearTimeout(thread.idleTimer);
    await thread.worker.terminate();
  }
}
