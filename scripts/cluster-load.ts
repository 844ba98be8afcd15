/**
 * Traffic for scripts/cluster-test.sh, through the client package (packages/client) so that its retries are
 * what a caller gets. Three modes; each writes a JSON summary to <out> and prints one line.
 *
 *   tsx scripts/cluster-load.ts load <url> <seconds> <out>   mixed calls at ~30/s (ending early when the file
 *       <out>.stop appears): 16-number JSON forwards,
 *       1e5-number JSON derivatives (every 8th), 1e6-number binary forwards (every 20th); each answer is
 *       checked whole (length and values).
 *   tsx scripts/cluster-load.ts slow <url> <count> <out>     <count> slow readers of a ~23 MB answer (a
 *       1000 x 1000 softmax Jacobian) over raw sockets, reading 16 KiB every 10 ms (~1.6 MB/s).
 *   tsx scripts/cluster-load.ts memory <url> <out>           16 concurrent 1e6-number JSON and 16 binary
 *       calls to one replica, each answer checked whole.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createClient, type GradientServiceClient } from '../packages/client/src/index.js';

const [mode, url, third, fourth] = process.argv.slice(2);

/** A failure's short description: the service's status and type, or the transport error's code. */
const describe = (error: unknown): string => {
  const e = error as { status?: number; type?: string; code?: string; name?: string; message?: string };
  if (e.status !== undefined) return `${e.status} ${e.type ?? ''}`.trim();
  return e.code ?? e.name ?? String(e.message ?? error);
};

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Whether `a` is sigmoid(z) for every element, within a few ulps. */
const isSigmoid = (z: ArrayLike<number>, a: ArrayLike<number>) => {
  if (a.length !== z.length) return false;
  for (let i = 0; i < z.length; i++) if (Math.abs(a[i] - sigmoid(z[i])) > 1e-15) return false;
  return true;
};

async function load(client: GradientServiceClient, seconds: number, stopFile: string) {
  const small = Array.from({ length: 16 }, (_, i) => i / 4 - 2);
  const medium = Array.from({ length: 100_000 }, (_, i) => Math.sin(i) * 3);
  const large = Float64Array.from({ length: 1_000_000 }, (_, i) => Math.cos(i) * 3);
  const counts: Record<string, { ok: number; failed: number; incomplete: number }> = {};
  const failures: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  const started = Date.now();
  let n = 0;
  const one = async (kind: string, run: () => Promise<boolean>) => {
    counts[kind] ??= { ok: 0, failed: 0, incomplete: 0 };
    try {
      if (await run()) counts[kind].ok++;
      else counts[kind].incomplete++;
    } catch (error) {
      counts[kind].failed++;
      const key = `${kind}: ${describe(error)}`;
      failures[key] = (failures[key] ?? 0) + 1;
    }
  };
  while (Date.now() - started < seconds * 1000 && !existsSync(`${stopFile}`)) {
    n++;
    const call =
      n % 20 === 0
        ? one('1e6 binary', async () => {
            const { a } = await client.activationForwardBinary('sigmoid', {
              z: { data: large, shape: [large.length] },
            });
            return (
              a.data.length === large.length && isSigmoid(large.subarray(0, 1000), a.data.subarray(0, 1000))
            );
          })
        : n % 8 === 0
          ? one('1e5 json', async () => {
              const { derivative } = await client.activationDerivative('sigmoid', { z: medium });
              return derivative.length === medium.length && Math.abs(derivative[0] - 0.25) < 1e-15;
            })
          : one('16 json', async () => {
              const { a } = await client.activationForward('sigmoid', { z: small });
              return isSigmoid(small, a);
            });
    const tracked = call.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    await new Promise((resolve) => setTimeout(resolve, 33));
  }
  await Promise.all(inFlight);
  return { seconds: Math.round((Date.now() - started) / 1000), calls: n, counts, failures };
}

/** One slow reader: the answer's bytes, whether it is whole, and which replica served it. */
function slowRead(base: string, index: number) {
  const { hostname, port } = new URL(base);
  const z = Array.from({ length: 1000 }, (_, i) => (i + index) / 100);
  const body = JSON.stringify({ z });
  return new Promise<{ bytes: number; complete: boolean; servedBy?: string; error?: string }>((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.write(
      `POST /v1/softmax/jacobian HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    let timer: NodeJS.Timeout;
    const pump = () => {
      // 16 KiB per 10 ms (~1.6 MB/s): a ~23 MB answer takes ~14 s, longer than a stop's SHUTDOWN_DELAY_MS.
      const chunk: Buffer | null = socket.read(16_384);
      if (chunk !== null) chunks.push(chunk);
      timer = setTimeout(pump, 10);
    };
    socket.pause();
    timer = setTimeout(pump, 10);
    socket.on('readable', () => undefined);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read())
        chunks.push(chunk);
      const all = Buffer.concat(chunks);
      const headEnd = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, Math.max(0, headEnd)).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      const servedBy = /x-served-by: *(\S+)/i.exec(head)?.[1];
      const content = all.subarray(headEnd + 4);
      let complete = headEnd > 0 && / 200 /.test(head.split('\r\n')[0]) && content.length === length;
      if (complete) {
        try {
          complete =
            (JSON.parse(content.toString('utf8')) as { jacobian: number[][] }).jacobian.length === 1000;
        } catch {
          complete = false;
        }
      }
      resolve({ bytes: content.length, complete, servedBy, error });
    });
  });
}

async function memory(client: GradientServiceClient) {
  const n = 1_000_000;
  const z = Array.from({ length: n }, (_, i) => Math.sin(i) * 4);
  const packed = Float64Array.from(z);
  const results = await Promise.all([
    ...Array.from({ length: 16 }, () =>
      client
        .activationForward('sigmoid', { z })
        .then(({ a }) => ({
          kind: 'json',
          complete: a.length === n && isSigmoid(z.slice(0, 1000), a.slice(0, 1000)),
        }))
        .catch((error: unknown) => ({ kind: 'json', complete: false, error: describe(error) })),
    ),
    ...Array.from({ length: 16 }, () =>
      client
        .activationForwardBinary('sigmoid', { z: { data: packed, shape: [n] } })
        .then(({ a }) => ({
          kind: 'binary',
          complete: a.data.length === n && isSigmoid(packed.subarray(0, 1000), a.data.subarray(0, 1000)),
        }))
        .catch((error: unknown) => ({ kind: 'binary', complete: false, error: describe(error) })),
    ),
  ]);
  const count = (kind: string) => ({
    ok: results.filter((r) => r.kind === kind && r.complete).length,
    failed: results.filter((r) => r.kind === kind && !r.complete).length,
  });
  const errors: Record<string, number> = {};
  for (const r of results) if ('error' in r && r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
  return { json: count('json'), binary: count('binary'), errors };
}

async function main() {
  if (!url) throw new Error('usage: cluster-load.ts load|slow|memory <url> ...');
  // Patient enough for the memory test's refusals (Retry-After: 1 each) and a rolling restart.
  const client = createClient({ baseUrl: url, timeout: 120_000, retries: 30, connections: 16 });
  let result: unknown;
  let out: string;
  try {
    if (mode === 'load') {
      out = fourth;
      result = await load(client, Number(third), `${out}.stop`);
    } else if (mode === 'slow') {
      out = fourth;
      const readers = await Promise.all(Array.from({ length: Number(third) }, (_, i) => slowRead(url, i)));
      result = { readers };
    } else if (mode === 'memory') {
      out = third;
      result = await memory(client);
    } else throw new Error(`unknown mode ${mode}`);
  } finally {
    await client.close();
  }
  writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(`cluster-load ${mode}: ${JSON.stringify(result)}`);
}

await main();
