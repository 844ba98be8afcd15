/**
 * scripts/readme-examples.sh starts the service to run the README's curls against it and prints the README's
 * "Routes, with real output" block: the README holds exactly that output (request ids aside, which are
 * random), and whether the script ends on its own or is stopped, it leaves no server behind (it used to leave
 * tsx's node child listening on its port).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../scripts/readme-examples.sh', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Request ids are random UUIDs: the one part of the output that differs between runs. */
const withoutRequestIds = (text: string) =>
  text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<request id>');

const started: ChildProcess[] = [];
afterEach(() => {
  // The script runs in a process group of its own: whatever it leaves behind goes with the group.
  for (const child of started.splice(0))
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // the group is gone already: nothing was left
    }
});

function runScript(port: number) {
  const child = spawn('bash', [script], {
    env: { ...process.env, PORT: String(port) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal, stdout, stderr }));
  return { child, exited };
}

describe('scripts/readme-examples.sh', () => {
  it("prints the README's examples block, word for word, and once done no server is left on its port", async () => {
    const port = await freePort();
    const { exited } = runScript(port);
    const { code, stdout, stderr } = await exited;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('```console');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = readme.match(/<!-- readme-examples:start[^>]*-->\n([\s\S]*?)<!-- readme-examples:end -->/);
    expect(block, 'README.md has no readme-examples block').not.toBeNull();
    expect(
      withoutRequestIds(block?.[1] ?? ''),
      'README.md is stale: run `bash scripts/readme-examples.sh --write`',
    ).toBe(withoutRequestIds(stdout));
    expect(await listening(port)).toBe(false);
  }, 120_000);

  it('stopped with SIGTERM while its server runs: the server stops too', async () => {
    const port = await freePort();
    const { child, exited } = runScript(port);
    const deadline = Date.now() + 60_000;
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error('the script never started its server');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGTERM');
    await exited;
    expect(await listening(port)).toBe(false);
  }, 120_000);
});
