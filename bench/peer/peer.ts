/**
 * The FastAPI + PyTorch peer (bench/peer/app.py) as a child process of the benchmark: whether it can run here
 * (Debian's packages in /usr/bin/python3, see bench/peer/install.sh), and starting it on a free port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Server } from '../http.js';

export const peerPython = '/usr/bin/python3';
const app = fileURLToPath(new URL('./app.py', import.meta.url));

/** Undefined when the peer can run; else why not (the bench prints it and skips the section). */
export function peerUnavailable(): string | undefined {
  const probe = spawnSync(peerPython, ['-c', 'import torch, fastapi, uvicorn, uvloop, httptools'], {
    encoding: 'utf8',
  });
  if (probe.error) return `${peerPython} not found (${probe.error.message})`;
  if (probe.status !== 0)
    return `${peerPython} lacks the peer's packages (${probe.stderr.trim().split('\n').at(-1)}); run bench/peer/install.sh`;
  return undefined;
}

/** The torch and FastAPI versions, for the results file. */
export function peerVersions(): string {
  const probe = spawnSync(
    peerPython,
    [
      '-c',
      'import torch, fastapi, uvicorn; print(f"torch {torch.__version__}, fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}")',
    ],
    { encoding: 'utf8' },
  );
  return probe.stdout.trim();
}

/** Starts app.py on a free port and resolves once it serves (it prints {"port": N}). */
export function startPeer(): Promise<Server> {
  const child = spawn(peerPython, [app, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error('the peer did not start within 60 s'));
    }, 60_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the peer exited with ${code} before listening`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: child.pid,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
