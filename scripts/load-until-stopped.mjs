// Load generator for scripts/container-test.sh: keeps CONNECTIONS keep-alive connections busy with POSTs
// (mostly 16-number sigmoid forwards, every 10th one of 150,000 numbers, which runs in the worker pool and so
// is likely in flight when the stop lands) until the server goes away, then writes what happened to each
// request as JSON: { id, status, error, sentAt, doneAt }. Each request carries its own x-request-id, so the
// caller can match the server's "incoming request" log lines against the answers received here.
//
// Usage: node scripts/load-until-stopped.mjs <base-url> <out.json> [max-seconds]
// Ends when every connection has seen the listener refuse it (the server is gone), or after max-seconds.
// Prints "load: flowing" once 50 requests have been answered with a 200.
import { writeFileSync } from 'node:fs';
import { Pool } from 'undici';

const [base, out, maxSecondsArg] = process.argv.slice(2);
if (!base || !out) {
  console.error('usage: node scripts/load-until-stopped.mjs <base-url> <out.json> [max-seconds]');
  process.exit(2);
}
const maxSeconds = Number(maxSecondsArg ?? 60);
const connections = 8;
const small = JSON.stringify({ z: Array.from({ length: 16 }, (_, i) => i / 4 - 2) });
const large = JSON.stringify({ z: Array.from({ length: 150_000 }, (_, i) => Math.sin(i) * 4) });
const pool = new Pool(base, { connections, keepAliveTimeout: 60_000, pipelining: 1 });
const started = Date.now();
const results = [];
let sequence = 0;
let refusedInARow = 0;
let answered = 0;

async function one(worker) {
  const id = `load-${worker}-${sequence++}`;
  const body = sequence % 10 === 0 ? large : small;
  const result = { id, size: body === large ? 'large' : 'small', sentAt: Date.now() - started };
  results.push(result);
  try {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/activations/sigmoid/forward',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    result.status = res.statusCode;
    result.connection = res.headers.connection;
    // A 200 must be the whole answer: as many numbers as were sent.
    if (res.statusCode === 200) {
      result.complete = JSON.parse(text).a.length === JSON.parse(body).z.length;
      // Tells the caller (through stdout) that the load is flowing: time to stop the server under it.
      if (++answered === 50) console.log('load: flowing');
    } else result.detail = text.slice(0, 300);
    refusedInARow = 0;
  } catch (error) {
    result.error = error.code ?? error.name;
    result.message = String(error.message).slice(0, 200);
    if (error.code === 'ECONNREFUSED') refusedInARow++;
  }
  result.doneAt = Date.now() - started;
}

async function worker(n) {
  while (refusedInARow < 3 * connections && Date.now() - started < maxSeconds * 1000) {
    await one(n);
    // After a refusal, a short pause: the server is going or gone, and the loop must not spin.
    if (results.at(-1).error) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

await Promise.all(Array.from({ length: connections }, (_, n) => worker(n)));
await pool.destroy();
writeFileSync(out, JSON.stringify(results));
const byOutcome = {};
for (const r of results) {
  const key = r.status ?? r.error;
  byOutcome[key] = (byOutcome[key] ?? 0) + 1;
}
console.log(
  `load: ${results.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(byOutcome)}`,
);
