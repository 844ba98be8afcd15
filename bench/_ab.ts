import { forwardCase } from './bodies.js';
import { alternate, startServer } from './http.js';

const c = forwardCase(16);
const a = await startServer('service');
const b = await startServer('service', { OFFLOAD_THRESHOLD: '0' });
const e = await startServer('echo');
const load = (url: string) => ({
  url,
  body: c.json,
  headers: { 'content-type': 'application/json' },
  connections: 8,
  seconds: 2,
});
const [sa, sb, se] = await alternate(
  [load(a.url + c.path), load(b.url + c.path), load(e.url + '/echo')],
  2,
  1,
);
console.log('pool-parser', sa.rps.toFixed(0), 'no-override', sb.rps.toFixed(0), 'echo', se.rps.toFixed(0));
await Promise.all([a.stop(), b.stop(), e.stop()]);
