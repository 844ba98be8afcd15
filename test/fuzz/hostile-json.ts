/**
 * Structurally hostile JSON, as text (so that it can say what JSON.stringify cannot: 1e400, -0, duplicate
 * keys, escaped lone surrogates, unclosed nesting): numbers at and beyond float64's edges, odd strings and
 * keys (__proto__, constructor, lone surrogates, megabyte strings), nesting hundreds of thousands deep, arrays
 * and objects hundreds of thousands wide, duplicate keys by the thousand, and every type where another is
 * expected. `mutatedBody` plants one of them anywhere in a route's working example, so that it gets past the
 * first checks and reaches the deeper ones; padding with whitespace sends the body through the worker pool.
 */
import fc from 'fast-check';

/** Number tokens at float64's edges and beyond, valid JSON or not (a parser must refuse those cleanly). */
export const oddNumberTokens = [
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '-0.0',
  '-0e-0',
  '5e-324',
  '4.9e-324',
  '2.4703282292062327e-324',
  '2.2250738585072014e-308',
  '1.7976931348623157e308',
  '1.7976931348623159e308',
  '-1.7976931348623157e308',
  '1e308',
  '1e300',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890123456789012345678901234567890',
  `0.${'0'.repeat(400)}1`,
  `1${'0'.repeat(400)}`,
  '0.1e99999999999999999999',
  '1E+308',
  '0e0',
  '1.0',
  // Not JSON: each must be a 400, never a value.
  '00',
  '01',
  '+1',
  '.5',
  '1.',
  '0x10',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e',
  '-',
  '1_000',
  '١',
] as const;

/** String tokens: escaped lone surrogates, control characters, invalid escapes, odd Unicode. */
export const oddStringTokens = [
  '"\\ud800"',
  '"\\udfff"',
  '"\\udc00\\ud800"',
  '"a\\ud83d"',
  '"\\u0000"',
  '"\\u202e"',
  '"\u2028\u2029"',
  '"\ufeff"',
  '"\\x41"',
  '"\\u12"',
  '"\t"',
  '"\u0001"',
  '"',
  '"\\"',
  '""',
  '"1e400"',
  '"NaN"',
  '"0"',
  '"true"',
  '"sigmoid"',
  '"FP64"',
  '"💩"',
  '"\u0301\u0301\u0301"',
] as const;

/** Keys that later code might mistake for the prototype, or for another field. */
export const hostileKeys = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '',
  ' ',
  'z ',
  'Z',
  '\u0000',
  '\ud800',
  'a'.repeat(10_000),
] as const;

/** One value of each JSON type (and a few of each edge), for "every type where another is expected". */
export const typeZoo = [
  'null',
  'true',
  'false',
  '0',
  '-1',
  '1.5',
  '""',
  '"x"',
  '[]',
  '{}',
  '[[]]',
  '[{}]',
  '[null]',
  '[true]',
  '["1"]',
  '[[1],[1,2]]',
  '[[[1]]]',
  '{"a":1}',
  '[1e400]',
  '[-0]',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
] as const;

const token = <T extends string>(tokens: readonly T[]) => fc.constantFrom(...tokens);

/**
 * Sizes from 1 to max, log-uniform (fast-check's integers favour the ends): as many around 10 as around
 * 10,000 or 100,000, so that CI-sized runs reach the large ones too.
 */
const spread = (max: number, min = 1) =>
  fc
    .noBias(fc.integer({ min: 0, max: 1000 }))
    .map((i) => Math.round(Math.exp(Math.log(min) + (i / 1000) * (Math.log(max) - Math.log(min)))));

const number = fc.oneof(
  { weight: 3, arbitrary: token(oddNumberTokens) },
  { weight: 1, arbitrary: fc.double().map((x) => String(x)) },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

const string = fc.oneof(
  { weight: 3, arbitrary: token(oddStringTokens) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: spread(1_000_000).map((n) => `"${'a'.repeat(n)}"`) },
);

const key = fc.oneof(
  { weight: 2, arbitrary: token(hostileKeys).map((k) => JSON.stringify(k)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)) },
);

/** Small random JSON-ish values (valid or not), nested a few levels. */
const smallValue: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof<fc.Arbitrary<string>[]>(
    { depthSize: 'small', withCrossShrink: true },
    number,
    string,
    token(typeZoo),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(key, tie('value')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  ),
})).value;

/** Nesting `depth` levels deep, closed or not. */
const deep = fc
  .record({
    depth: spread(200_000, 50),
    shape: fc.constantFrom('object', 'object', 'object', 'array', 'array', 'mixed', 'proto'),
    // Mostly closed (valid JSON, to reach past the parser), sometimes left open.
    closed: fc.constantFrom(true, true, true, true, false),
    leaf: fc.constantFrom('', '0', '1e400', '"x"', 'null'),
  })
  .map(({ depth, shape, closed, leaf }) => {
    const open = { array: '[', object: '{"a":', mixed: '[{"z":', proto: '{"__proto__":' }[shape];
    const close = { array: ']', object: '}', mixed: '}]', proto: '}' }[shape];
    const inner = leaf === '' && shape !== 'array' ? '0' : leaf;
    return open.repeat(depth) + inner + (closed ? close.repeat(depth) : '');
  });

/** Arrays hundreds of thousands wide (past MAX_ELEMENTS in the fuzz server at the top end). */
const wide = fc
  .record({ width: spread(300_000), element: fc.oneof(number, token(['0', '[0]', '[]', 'null', '"0"'])) })
  // At most ~3 MB of text, whatever the element: wide, not merely big.
  .map(({ width, element }) => {
    const count = Math.min(width, Math.floor(3_000_000 / (element.length + 1)));
    return `[${new Array(count).fill(element).join(',')}]`;
  });

/** Objects with many distinct keys, or one key repeated many times. */
const manyKeys = fc
  .record({
    count: spread(150_000),
    duplicate: fc.boolean(),
    value: fc.constantFrom('0', '1e400', '[1]', '"x"'),
  })
  .map(({ count, duplicate, value }) => {
    const entries = new Array<string>(count);
    for (let i = 0; i < count; i++) entries[i] = `"${duplicate ? 'z' : `k${i}`}":${value}`;
    return `{${entries.join(',')}}`;
  });

/** A value that is hostile in its structure or size: deep, wide, many keys, long. */
export const structuralValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: deep },
  { weight: 2, arbitrary: wide },
  { weight: 2, arbitrary: manyKeys },
  { weight: 1, arbitrary: spread(1_000_000).map((n) => `"${'a'.repeat(n)}"`) },
  { weight: 1, arbitrary: fc.tuple(number, deep).map(([n, d]) => `[${n},${d}]`) },
);

/** A value that is hostile in structure, size or type. */
export const hostileValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: token(typeZoo) },
  { weight: 2, arbitrary: number },
  { weight: 2, arbitrary: string },
  { weight: 1, arbitrary: smallValue },
  { weight: 4, arbitrary: structuralValue },
);

/** What to do to the example: replace the value at a pointer, add a key to an object, or replace it all. */
export type Mutation =
  | { kind: 'replace'; pointer: string; raw: string }
  | { kind: 'add'; pointer: string; key: string; raw: string }
  | { kind: 'root'; raw: string };

/** Every JSON pointer in a value (the root is ''), and which of them are objects. */
export function pointers(value: unknown, at = ''): { all: string[]; objects: string[] } {
  const all = [at];
  const objects: string[] = [];
  if (value !== null && typeof value === 'object') {
    if (!Array.isArray(value)) objects.push(at);
    for (const [k, child] of Object.entries(value)) {
      const sub = pointers(child, `${at}/${k}`);
      all.push(...sub.all);
      objects.push(...sub.objects);
    }
  }
  return { all, objects };
}

/** The example as JSON text with the mutation applied (raw text is spliced in as it is). */
export function render(value: unknown, mutation: Mutation, at = ''): string {
  if (mutation.kind === 'root') return mutation.raw;
  if (mutation.kind === 'replace' && mutation.pointer === at) return mutation.raw;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => render(v, mutation, `${at}/${i}`)).join(',')}]`;
  const entries = Object.entries(value).map(
    ([k, v]) => `${JSON.stringify(k)}:${render(v, mutation, `${at}/${k}`)}`,
  );
  if (mutation.kind === 'add' && mutation.pointer === at)
    entries.push(`${JSON.stringify(mutation.key)}:${mutation.raw}`);
  return `{${entries.join(',')}}`;
}

/** A mutation of `example`: anywhere in it, with keys drawn from the route's own field names and hostile ones. */
export function mutation(
  example: unknown,
  fieldNames: readonly string[],
  values = hostileValue,
  wholeBody = true,
): fc.Arbitrary<Mutation> {
  const { all, objects } = pointers(example);
  // Mostly the route's own field names (params, parameters, ...: objects that a route reads key by key).
  const keys = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...fieldNames, 'params', 'parameters') },
    { weight: 1, arbitrary: token(hostileKeys) },
  );
  // Mostly inside the example (past the first checks, into the deeper ones), sometimes the whole body.
  const options: fc.WeightedArbitrary<Mutation>[] = [
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('replace' as const),
        pointer: fc.constantFrom(...all),
        raw: values,
      }),
    },
  ];
  if (wholeBody)
    options.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('root' as const), raw: values }) });
  if (objects.length)
    options.push({
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('add' as const),
        pointer: fc.constantFrom(...objects),
        key: keys,
        raw: values,
      }),
    });
  return fc.oneof(...options);
}

/** Whitespace before and after the body (at least `min` bytes): past the offload threshold, the pool parses it. */
export function padding(min = 0): fc.Arbitrary<{ before: string; after: string }> {
  const jsonWhitespace = [' ', ' ', ' ', '\n', '\t', '\r\n'];
  const padded = fc
    .record({
      bytes: spread(1_000_000, Math.max(1, min)),
      // JSON's own whitespace (so that the body reaches the pool's parser); without a minimum, sometimes not.
      ws: fc.constantFrom(...jsonWhitespace, ...(min > 0 ? [] : ['\u00a0', '\f'])),
      where: fc.constantFrom('before', 'after', 'both'),
    })
    .map(({ bytes, ws, where }) => {
      const pad = ws.repeat(Math.ceil(bytes / ws.length));
      return { before: where === 'after' ? '' : pad, after: where === 'before' ? '' : pad };
    });
  return min > 0 ? padded : fc.oneof(fc.constant({ before: '', after: '' }), padded);
}

/** Bytes that are not UTF-8, spliced into a body at a random place. */
export const invalidUtf8 = fc.oneof(
  { weight: 9, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.constantFrom(
        [0xff],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xe2, 0x82],
        [0x00],
      ),
    }),
  },
);

export function spliceBytes(
  text: string,
  splice: { at: number; bytes: readonly number[] } | null,
): string | Buffer {
  if (!splice) return text;
  const body = Buffer.from(text, 'utf8');
  const at = Math.floor(splice.at * body.length);
  return Buffer.concat([body.subarray(0, at), Buffer.from(splice.bytes), body.subarray(at)]);
}

/** Content-Types a JSON client might send, and some it should not. */
export const jsonContentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/json;;;',
      'application/json, text/plain',
      'application/jsonx',
      'application/json; charset="utf-16"',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
      '*/*',
    ),
  },
);
