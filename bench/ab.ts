/**
 * A quick side-by-side of one case on several servers (for trying a change): each argument after the case is
 * a server file (bench/servers/service.ts of any checkout, or bench/servers/echo.ts); A B C A B C, medians.
 *
 *   npx tsx bench/ab.ts forward/16 <server.ts> <server.ts> ... [--rounds=5] [--seconds=3]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { caseFor } from './bodies.js';
import { addCounts, cannon, connectionsFor, cpuTimes, failuresCell, median } from './http.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flag = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const [id, ...files] = args;
const [op, n] = id.split('/');
const elements = Number(n);
const c = caseFor(op, elements);

const children: ChildProcess[] = [];
const urls: string[] = [];
for (const file of files) {
  const child = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  urls.push(`http://127.0.0.1:${port}${file.endsWith('echo.ts') ? `/echo/${c.op}` : c.path}`);
}
const connections = connectionsFor(elements);
const loads = urls.map((url) => ({
  url,
  body: c.json,
  headers: { 'content-type': 'application/json' },
  connections,
  seconds: flag('seconds', 3),
}));
for (const load of loads) await cannon({ ...load, seconds: 1 });
const rows = loads.map(() => ({
  rps: [] as number[],
  user: [] as number[],
  sys: [] as number[],
  failures: 0,
  failed: {} as Record<string, number>,
}));
for (let round = 0; round < flag('rounds', 5); round++)
  for (const [i, load] of loads.entries()) {
    const pid = children[i].pid;
    const before = cpuTimes(pid) ?? { user: 0, system: 0 };
    const stats = await cannon(load);
    const after = cpuTimes(pid) ?? { user: 0, system: 0 };
    rows[i].rps.push(stats.rps);
    rows[i].user.push((after.user - before.user) / stats.requests);
    rows[i].sys.push((after.system - before.system) / stats.requests);
    rows[i].failures += stats.failures;
    addCounts(rows[i].failed, stats.failed);
  }
const base = median(rows[rows.length - 1].rps);
const baseCpu = median(rows[rows.length - 1].user) + median(rows[rows.length - 1].sys);
for (const [i, r] of rows.entries()) {
  const rps = median(r.rps);
  const user = median(r.user);
  const sys = median(r.sys);
  console.log(
    `${files[i]}: ${rps.toFixed(1)} req/s (x${(rps / base).toFixed(3)} of last; rounds ${r.rps.map((x) => x.toFixed(0)).join(' ')}), ` +
      `server CPU per request ${user.toFixed(1)} us user + ${sys.toFixed(1)} us sys (x${(baseCpu / (user + sys)).toFixed(3)}), failed ${failuresCell(r)}`,
  );
}
for (const child of children) child.kill('SIGTERM');
