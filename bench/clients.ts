/**
 * Two measurements for issue 17, each against the real app listening on a free port:
 *
 * - `compression`: the bytes and time of a 1e6-number reply (sigmoid forward on /v1, JSON and binary), with
 *   Accept-Encoding gzip and without; the median of 3 runs each.
 * - `stall`: how long GET /healthz waits while one 1e6-number JSON inference runs, on /v1 and on /v2: a probe
 *   every 10 ms during the request, the worst probe reported; 3 runs each. The server runs in its own process
 *   here (src/server.ts, default configuration).
 *
 *   npx tsx bench/clients.ts compression|stall
 *
 * The app runs with its default configuration (the worker pool on).
 */
import { request } from 'undici';
import { buildApp } from '../src/app.js';
import { defaultConfig } from '../src/config.js';
import { isListening, killChildren, listeningPort, startServer } from '../test/support/server-process.js';

const n = 1_000_000;
const z = Array.from({ length: n }, (_, i) => Math.sin(i) * 4);
const v1Body = JSON.stringify({ z });
const v2Body = JSON.stringify({ inputs: [{ name: 'z', shape: [n], datatype: 'FP64', data: z }] });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function start() {
  const app = await buildApp(
    { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
    { logger: false },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, base: `http://127.0.0.1:${port}` };
}

async function post(url: string, body: string, headers: Record<string, string>) {
  const t0 = performance.now();
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).length;
  return {
    status: res.statusCode,
    bytes,
    ms: performance.now() - t0,
    encoding: res.headers['content-encoding'],
  };
}

async function compression() {
  const { app, base } = await start();
  try {
    for (const accept of ['application/json', 'application/vnd.gradient-service.tensor+octet-stream'])
      for (const encoding of ['identity', 'gzip']) {
        const runs = [];
        for (let i = 0; i < 3; i++)
          runs.push(
            await post(`${base}/v1/activations/sigmoid/forward`, v1Body, {
              accept,
              'accept-encoding': encoding,
            }),
          );
        const r = runs[0];
        console.log(
          `${accept.padEnd(52)} accept-encoding ${encoding.padEnd(8)} status ${r.status} content-encoding ${r.encoding ?? '-'} ` +
            `${r.bytes} bytes, ${median(runs.map((x) => x.ms)).toFixed(0)} ms (median of 3)`,
        );
      }
  } finally {
    await app.close();
  }
}

async function stall() {
  // The server in its own process, as deployed: this process's own work (sending 20 MB, reading the reply)
  // must not count as the server's stall.
  const server = startServer({ LOG_LEVEL: 'info' });
  const base = `http://127.0.0.1:${listeningPort(await server.waitFor(isListening))}`;
  try {
    for (const [surface, url, body] of [
      ['/v1', `${base}/v1/activations/sigmoid/forward`, v1Body],
      ['/v2', `${base}/v2/models/sigmoid/infer`, v2Body],
    ] as const)
      for (let run = 0; run < 3; run++) {
        let done = false;
        const probes: number[] = [];
        const inference = post(url, body, {}).finally(() => {
          done = true;
        });
        while (!done) {
          const t0 = performance.now();
          const res = await request(`${base}/healthz`);
          await res.body.dump();
          probes.push(performance.now() - t0);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const r = await inference;
        console.log(
          `${surface} run ${run + 1}: inference ${r.status} in ${r.ms.toFixed(0)} ms; ${probes.length} /healthz probes, ` +
            `worst ${Math.max(...probes).toFixed(1)} ms, median ${median(probes).toFixed(1)} ms`,
        );
      }
  } finally {
    killChildren();
  }
}

const which = process.argv[2];
if (which === 'compression') await compression();
else if (which === 'stall') await stall();
else {
  console.error('usage: npx tsx bench/clients.ts compression|stall');
  process.exitCode = 2;
}
