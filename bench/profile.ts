/**
 * Where a request's time goes: runs the service (or the echo) under `node --cpu-prof`, drives one case with
 * autocannon, and prints the top functions by self time and a few inclusive totals.
 *
 *   npx tsx bench/profile.ts [forward|derivative|jacobian] [elements] [seconds] [service|echo]
 *
 * The profiles (the main thread's, then each pool thread's) are written to bench/results/profiles/ (not
 * tracked) for Chrome DevTools, and each is summarized.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { caseFor } from './bodies.js';
import { cannon, connectionsFor, failuresCell } from './http.js';

const [op = 'forward', elementsArg = '16', secondsArg = '8', target = 'service'] = process.argv.slice(2);
const elements = Number(elementsArg);
const c = caseFor(op, elements);
const dir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
mkdirSync(dir, { recursive: true });
const before = new Set(readdirSync(dir));

const file = fileURLToPath(new URL(`./servers/${target}.ts`, import.meta.url));
const child: ChildProcess = fork(file, [], {
  execArgv: ['--import', 'tsx', '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100'],
  env: { ...process.env, LOG_LEVEL: 'silent' },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const port = await new Promise<number>((resolve) =>
  child.once('message', (m: { port: number }) => resolve(m.port)),
);
const url = `http://127.0.0.1:${port}${target === 'echo' ? `/echo/${c.op}` : c.path}`;
const load = {
  url,
  body: c.json,
  headers: { 'content-type': 'application/json' },
  connections: connectionsFor(c.elements),
};
const warm = await cannon({ ...load, seconds: 2 });
const stats = await cannon({ ...load, seconds: Number(secondsArg) });
const requests = warm.requests + stats.requests;
console.log(`${c.id} on ${target}: ${stats.rps.toFixed(1)} req/s, failed ${failuresCell(stats)}`);
await new Promise<void>((done) => {
  child.once('exit', () => done());
  child.kill('SIGTERM');
});

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
const written = readdirSync(dir)
  .filter((f) => !before.has(f) && f.endsWith('.cpuprofile'))
  .map((f) => `${dir}${f}`);
// node names a profile CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread, the
// others are the worker pool's threads (large requests run there), each reported after the main thread's.
const threadId = (path: string) => Number(path.split('.').at(-3));
for (const profilePath of written.sort((a, b) => threadId(a) - threadId(b)))
  summarize(
    profilePath,
    threadId(profilePath) === 0 ? 'main thread' : `worker thread ${threadId(profilePath)}`,
  );

function summarize(profilePath: string, thread: string) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as {
    nodes: Node[];
    startTime: number;
    endTime: number;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const total = profile.nodes.reduce((s, n) => s + n.hitCount, 0);
  // Microseconds per request for a number of samples (start-up and shutdown included: small, and alike for both).
  const usPerSample = (profile.endTime - profile.startTime) / total;
  const us = (samples: number) => ((samples * usPerSample) / requests).toFixed(2).padStart(6);
  const label = (n: Node) => {
    const where = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  for (const n of profile.nodes) self.set(label(n), (self.get(label(n)) ?? 0) + n.hitCount);
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
  console.log(
    `\n== ${thread}: profile ${profilePath}\nsamples ${total}, busy ${(((total - idle) / total) * 100).toFixed(1)}%`,
  );
  console.log(`busy ${us(total - idle)} us per request over ${requests} requests`);
  console.log('\nself time (us per request):');
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45))
    if (!k.startsWith('(idle)')) console.log(`${us(v)}  ${k}`);

  // Inclusive time per file (a function's subtree counted once per file on the stack).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const ch of n.children ?? []) parent.set(ch, n.id);
  const inclusive = new Map<string, number>();
  for (const n of profile.nodes) {
    if (!n.hitCount) continue;
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id) as Node;
      const u = node.callFrame.url;
      const key = u.includes('/src/')
        ? u.replace(/^.*\/src\//, 'src/')
        : u.includes('node_modules/')
          ? u.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
          : u.startsWith('node:')
            ? u
            : '';
      if (key) seen.add(key);
    }
    for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + n.hitCount);
  }
  console.log('\ninclusive time by file (us per request):');
  for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${us(v)}  ${k}`);
}
