/**
 * Probes a running server with the hostile HTTP of issue 8 and prints one line per case: what came back
 * (status, media type, start of the body) or what the client saw instead (EPIPE, reset). Not a test: the
 * tests are test/ops/http-edges.test.ts, linger.test.ts, rate-limit.test.ts and test/plots/svg.test.ts.
 *
 *     npx tsx scripts/probe-http-edges.ts http://127.0.0.1:8080 edges    # needs REQUEST_TIMEOUT_MS small (2000)
 *     npx tsx scripts/probe-http-edges.ts http://127.0.0.1:8080 upload   # 36 MB bodies with undici fetch
 *     npx tsx scripts/probe-http-edges.ts http://127.0.0.1:8080 logins   # needs API_KEYS set and RATE_LIMIT=2
 *     npx tsx scripts/probe-http-edges.ts http://127.0.0.1:8080 plot
 */
import { connect } from 'node:net';
import { fetch } from 'undici';

const [baseUrl = 'http://127.0.0.1:8080', section = 'edges'] = process.argv.slice(2);
const { hostname: host, port } = new URL(baseUrl);

/** Writes `request` on a new connection; resolves with what came back when the server closes (or after `ms`). */
function raw(request: string, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.write(request);
  });
}

function line(name: string, response: string): void {
  const status = response.split('\r\n')[0] || '(nothing)';
  const type = /\r\ncontent-type: ([^\r;]*)/i.exec(response)?.[1] ?? '-';
  const body = response.split('\r\n\r\n').slice(1).join('').replace(/\s+/g, ' ').slice(0, 90);
  console.log(`| ${name} | ${status} | ${type} | ${body} |`);
}

const get = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;

async function edges(): Promise<void> {
  line('GET /healthz/', await raw(get('/healthz/')));
  line('GET /v2/models/relu/infer (405)', await raw(get('/v2/models/relu/infer')));
  line('bad %-encoding /v1', await raw(get('/v1/activations/%E0%A4%A/forward')));
  line('bad %-encoding /v2', await raw(get('/v2/models/%E0%A4%A')));
  line('20,000-char path /v1', await raw(get(`/v1/activations/${'a'.repeat(20_000)}/forward`)));
  line('20,000-char path /v2', await raw(get(`/v2/models/${'a'.repeat(20_000)}/infer`)));
  line('20 KB header', await raw(get('/v1/activations', `X-Big: ${'b'.repeat(20_000)}\r\n`)));
  line(
    'Content-Length + Transfer-Encoding',
    await raw(
      'POST /v1/activations/relu/forward HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"z":[1]}\r\n0\r\n\r\n',
    ),
  );
  line('request line not HTTP', await raw('HELLO\r\n\r\n'));
  line('CONNECT', await raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
  const post = (path: string, headers: string, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  line('Expect: teapot', await raw(post('/v1/activations/relu/forward', 'Expect: teapot\r\n', '{"z":[1]}')));
  line('empty JSON body, PUT /v2/nope', await raw(post('/v2/nope', '', '').replace('POST', 'PUT')));
  const slowBody = (path: string) =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"z":`;
  line('body stops (408) /v1', await raw(slowBody('/v1/activations/relu/forward'), 60_000));
  line('body stops (408) /v2', await raw(slowBody('/v2/models/relu/infer'), 60_000));
}

async function upload(): Promise<void> {
  const size = 36_000_000;
  const body = new Uint8Array(size).fill(0x20);
  for (const path of ['/v1/activations/relu/forward', '/v2/models/relu/infer']) {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      let outcome: string;
      try {
        const res = await fetch(`${baseUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const text = await res.text();
        outcome = `${res.status} body read (${text.length} chars)`;
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        outcome = `error ${cause?.code ?? cause?.message ?? String(error)}`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    console.log(`| 36 MB fetch x10 ${path} | ${[...outcomes].map(([o, n]) => `${n} x ${o}`).join('; ')} |`);
  }
}

async function logins(): Promise<void> {
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${baseUrl}/v1/activations/relu/forward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-key-0123456789' },
      body: '{"z":[1]}',
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  console.log(`| 5 wrong keys (RATE_LIMIT=2) | ${statuses.join(', ')} |`);
}

async function plot(): Promise<void> {
  for (const query of ['leaky_relu/plot.svg?alpha=1e308', 'elu/plot.svg?alpha=1e308']) {
    const res = await fetch(`${baseUrl}/v1/activations/${query}`);
    const text = await res.text();
    console.log(
      `| plot ${query} | ${res.status} | NaN: ${text.match(/NaN/g)?.length ?? 0}, Infinity: ${text.match(/Infinity/g)?.length ?? 0} |`,
    );
  }
}

const sections: Record<string, () => Promise<void>> = { edges, upload, logins, plot };
const run = sections[section];
if (!run) throw new Error(`unknown section ${section}: one of ${Object.keys(sections).join(', ')}`);
await run();
