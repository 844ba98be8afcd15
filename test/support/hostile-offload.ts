/**
 * The offload pool's handler for tests (test/ops/pool.test.ts): a JSON body with a "mode" field makes its
 * parse task misbehave that way (loop, exit, throw, return garbage, sleep); without one, or after the sleep,
 * the body goes to the real handler (src/workers/worker.ts) with the field removed.
 */
import handleReal, { type Task } from '../../src/workers/worker.js';

export default async function handle(task: Task): Promise<unknown> {
  if (task.kind !== 'parse-json') return handleReal(task);
  const body = JSON.parse(Buffer.from(task.body).toString('utf8')) as { mode?: string; ms?: number };
  const { mode, ms, ...rest } = body;
  switch (mode) {
    case 'loop':
      for (;;);
    case 'exit':
      process.exit(7);
      break;
    case 'throw':
      throw new Error('deliberately thrown');
    case 'garbage':
      return { packed: () => 'not data' };
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, ms));
      break;
  }
  return handleReal({ ...task, body: Buffer.from(JSON.stringify(rest)) });
}
