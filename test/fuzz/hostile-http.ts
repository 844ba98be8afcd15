/**
 * Hostile URLs, methods and headers for any route (through undici, so each request is still valid HTTP), and
 * malformed HTTP itself (raw bytes on a socket: requests no client library would send).
 */
import fc from 'fast-check';
import type { FuzzRequest } from './harness.js';
import { oddNumberTokens } from './hostile-json.js';
import { fillTemplate, type Route } from './routes.js';

/** Path segments a route parameter might receive: bad percent-encoding, dot segments, huge, odd Unicode. */
export const hostileSegment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      '%',
      '%%',
      '%zz',
      '%0',
      '%00',
      '%2F',
      '%2f..%2f',
      '..',
      '.',
      '%2e%2e',
      '%C0%AF',
      '%ED%A0%80',
      '%FF',
      '%F0%9F%92%A9',
      '%uD800',
      '\xff',
      '\xe9',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'SIGMOID',
      'sigmoid%20',
      'sigmoid%00',
      'sigmoid;x',
      'sigmoid.derivative',
      'softmax.jacobian',
      '-1',
      '1e400',
      '0x1',
    ),
  },
  // Up to 20,000 characters: past what a header section allows (431 / 414).
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => 'a'.repeat(n)) },
  { weight: 1, arbitrary: fc.webSegment() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map((s) => encodeURIComponent(s)) },
);

/** Query strings: odd numbers for numeric params, repeated and prototype-named keys, bad encoding, huge. */
export function hostileQuery(route: Route): fc.Arbitrary<string> {
  const keys = [
    ...route.query.map((q) => q.name),
    'alpha',
    'beta',
    'lambda',
    'min',
    'max',
    '__proto__',
    'constructor',
  ];
  const value = fc.oneof(
    fc.constantFrom(...oddNumberTokens).map((t) => encodeURIComponent(t)),
    fc.constantFrom('', '%', '%zz', '1e308', '-1e308', '1e-300', 'NaN', '%20%201', '1%00', '[]', '{}'),
  );
  const pair = fc.oneof(
    fc.tuple(fc.constantFrom(...keys), value).map(([k, v]) => `${k}=${v}`),
    fc.constantFrom('a', '=', '&&', 'x[y]=1', '__proto__[x]=1', 'constructor[prototype][x]=1', '%=%'),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((p) => `?${p.join('&')}`) },
    // The same key many times (an array where a string is expected), or a query of 20,000 characters.
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k) => `?${`${k}=1&`.repeat(500)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => `?q=${'x'.repeat(n)}`) },
  );
}

/** Methods: the usual ones, and tokens a server may not know. */
export const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'LINK', 'PURGE', 'QUERY', 'FOO'),
  },
);

/** Changes to the path around the route: trailing and doubled slashes, case, encoded prefixes, dot segments. */
export const pathChange = fc.constantFrom(
  (p: string) => p,
  (p: string) => p,
  (p: string) => p,
  (p: string) => `${p}/`,
  (p: string) => `${p}//`,
  (p: string) => `${p}/.`,
  (p: string) => `${p}/..`,
  (p: string) => `${p}/x`,
  (p: string) => `/${p}`,
  // ASCII letters only: 'ÿ'.toUpperCase() is U+0178, which no client can put in a request line.
  (p: string) => p.replace(/[a-z]/g, (c) => c.toUpperCase()),
  (p: string) => p.replace(/^\/v([12])/, '/%76$1'),
  (p: string) => p.replace(/^\/v([12])/, '/v$1/../v$1'),
  (p: string) => p.replace(/\//g, '//'),
  (p: string) => `${p}%00`,
  (p: string) => `${p}#x`,
);

/** Headers a hostile client adds to any request. */
export const extraHeaders = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant('content-type'),
      fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-16', ''),
    ),
    fc.tuple(fc.constant('accept'), fc.constantFrom('*/*', 'text/html', 'application/json;q=0', ',,,;q=x')),
    fc.tuple(
      fc.constant('x-request-id'),
      fc.constantFrom('', ' ', 'a'.repeat(10_000), '\xff\xfe', '../../etc', '"}'),
    ),
    fc.tuple(
      fc.constant('authorization'),
      fc.constantFrom('Bearer', 'Bearer ', `Bearer ${'k'.repeat(8000)}`, 'Basic x'),
    ),
    fc.tuple(fc.constant('content-encoding'), fc.constantFrom('gzip', 'br', 'identity', 'x')),
    fc.tuple(fc.constant('accept-encoding'), fc.constantFrom('gzip', '*', 'x;q=0')),
    fc.tuple(fc.constant('x-forwarded-for'), fc.constantFrom('1.2.3.4', 'x', '::1, 10.0.0.1')),
  ),
  { maxLength: 3 },
);

/** A request for any route with a hostile URL, method and headers. */
export function hostileUrlRequest(route: Route): fc.Arbitrary<FuzzRequest> {
  const paramValue = (values: string[], example: string | undefined) =>
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom(...(values.length ? values : [example ?? 'x'])).map(encodeURIComponent),
      },
      { weight: 3, arbitrary: hostileSegment },
    );
  const params = fc.tuple(...route.params.map((p) => paramValue(p.values, p.example)));
  const wildcard = route.template.endsWith('*') ? hostileSegment : fc.constant('');
  return fc
    .record({
      values: params,
      wildcard,
      change: pathChange,
      query: hostileQuery(route),
      method: fc.oneof({ weight: 2, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: method }),
      headers: extraHeaders,
      body: fc.option(fc.constantFrom('{}', '{"z":[1]}', 'x', '[]'), { freq: 2 }),
    })
    .map(({ values, wildcard, change, query, method, headers, body }) => {
      const filled: Record<string, string> = { '*': wildcard };
      route.params.forEach((p, i) => {
        filled[p.name] = values[i];
      });
      const withBody = body !== null && method !== 'GET' && method !== 'HEAD';
      return {
        method,
        path: change(fillTemplate(route.template, filled)) + query,
        headers:
          withBody && !headers.some(([k]) => k === 'content-type')
            ? [...headers, ['content-type', 'application/json']]
            : headers,
        body: withBody ? body : undefined,
      } as FuzzRequest;
    });
}

/** A request as raw bytes, with the target as the router would see it (for the surface of its error). */
export interface RawRequest {
  bytes: Buffer;
  target: string;
  /** The request stops short (a declared body not sent): the answer is a 408 after REQUEST_TIMEOUT_MS. */
  incomplete: boolean;
  [fc.toStringMethod]?: () => string;
}

const rawHeaderSets = fc.constantFrom<string[]>(
  [],
  [],
  [],
  ['Content-Length: 5', 'Transfer-Encoding: chunked'],
  ['Transfer-Encoding: chunked', 'Content-Length: 5'],
  ['Content-Length: -1'],
  ['Content-Length: abc'],
  ['Content-Length: 1, 2'],
  ['Content-Length: 2', 'Content-Length: 3'],
  ['Content-Length: 99999999999999999999'],
  ['Transfer-Encoding: chunked, gzip'],
  ['Transfer-Encoding: identity'],
  ['Transfer-Encoding: xchunked'],
  ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
  ['Foo'],
  ['Fo o: 1'],
  [': empty name'],
  ['X-A: 1', ' folded continuation'],
  ['X-A: a\u0000b'],
  ['X-A: a\u007fb'],
  ['X-A: \u00ff\u00fe'],
  [`X-Big: ${'a'.repeat(20_000)}`],
  Array.from({ length: 3000 }, (_, i) => `X-${i}: 1`),
  ['Expect: 100-continue'],
  ['Expect: something-else'],
  ['Host: a', 'Host: b'],
  ['Connection: upgrade', 'Upgrade: websocket'],
  ['Content-Type: application/json', 'Content-Encoding: gzip'],
  ['Content-Type: \u0000'],
);

/** Malformed HTTP/1.1 requests: request line, headers, framing and line endings, for any route's path. */
export function rawRequest(paths: readonly string[]): fc.Arbitrary<RawRequest> {
  const target = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...paths) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '*',
        'http://localhost/healthz',
        'http://localhost/v2/models/nope',
        '',
        '/v1/acti vations',
        '/v2/mo dels',
        '/v1/\u0001',
        '/\u00ff',
        '/v2/\u00ff',
        '/%',
        '/v2/%zz',
        'healthz',
        '//',
        '/healthz?%',
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((n) => `/${'a'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((n) => `/v2/${'a'.repeat(n)}`) },
  );
  return fc
    .record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
        { weight: 1, arbitrary: fc.constantFrom('FOO', 'get', 'G ET', '', 'GET\t', 'A'.repeat(1000), 'PRI') },
      ),
      target,
      version: fc.oneof(
        { weight: 6, arbitrary: fc.constant('HTTP/1.1') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'HTTP/1.0',
            'HTTP/2.0',
            'HTTP/1.1x',
            '',
            'HTTP/0.9',
            'http/1.1',
            'HTTP/1.1 ',
          ),
        },
      ),
      host: fc.constantFrom(true, true, true, false),
      headers: rawHeaderSets,
      body: fc.constantFrom(
        '',
        '{"z":[1,2]}',
        '5\r\nhello\r\n0\r\n\r\n',
        'zz\r\nhello\r\n0\r\n\r\n',
        '{"z":[1',
      ),
      declared: fc.constantFrom('exact', 'exact', 'none', 'more'),
      newline: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r'),
    })
    .map(({ method, target, version, host, headers, body, declared, newline }) => {
      const framing = headers.some((h) => /^(content-length|transfer-encoding)/i.test(h));
      const lines = [
        [method, target, version].filter((part, i) => part !== '' || i === 1).join(' '),
        ...(host ? ['Host: localhost'] : []),
        ...headers,
        ...(framing || declared === 'none'
          ? []
          : [`Content-Length: ${Buffer.byteLength(body) + (declared === 'more' ? 10 : 0)}`]),
      ];
      const text = `${lines.join(newline)}${newline}${newline}${body}`;
      return {
        bytes: Buffer.from(text, 'latin1'),
        // The server knows the path only from a request line of three parts with a method token; otherwise
        // the error cannot be placed on a surface and is problem+json.
        target:
          !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method) || target === ''
            ? ''
            : target.startsWith('http://')
              ? new URL(target).pathname
              : target,
        incomplete: !framing && declared === 'more',
        [fc.toStringMethod]: () =>
          JSON.stringify(text.length > 400 ? `${text.slice(0, 300)}... (${text.length} bytes)` : text),
      };
    });
}
