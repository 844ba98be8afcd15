import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type JsonParseError, jsonLimits, parseJson, scanJson } from '../../src/codec/bounded-json.js';

const scan = (text: string | Buffer) => scanJson(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);

function jsonParseAccepts(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

// Characters that make JSON interesting: structure, escapes, number parts, literal letters, whitespace
// (JSON's and not), controls, non-ASCII and a lone surrogate.
const jsonAlphabet = [
  ...'{}[],:"\\/ 0123456789-+.eEtrufalsnbu',
  '\n',
  '\t',
  '\r',
  '\f',
  '\v',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u00a0',
  'é',
  '€',
  '😀',
  '\ud800',
  '\ufeff',
];
const jsonChar = fc.constantFrom(...jsonAlphabet);

/** A text with a few random edits: mostly near-valid, so the scanner is tested where it matters. */
const edited = (texts: fc.Arbitrary<string>) =>
  fc
    .tuple(
      texts,
      fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), jsonChar), {
        maxLength: 3,
      }),
    )
    .map(([text, edits]) => {
      let out = text;
      for (const [at, kind, char] of edits) {
        const i = out.length ? at % (out.length + 1) : 0;
        if (kind === 'insert') out = out.slice(0, i) + char + out.slice(i);
        else if (kind === 'delete') out = out.slice(0, i) + out.slice(i + 1);
        else out = out.slice(0, i) + char + out.slice(i + 1);
      }
      return out;
    });

const nearJson = edited(fc.json({ maxDepth: 4 }));

/** Tensors as clients send them (rows of numbers in every notation), edited: the scanner's fast path for rows. */
const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.integer().map(String),
  fc.constantFrom('0', '-0', '1e5', '1E+2', '-2.5e-3', '0.0', '10'),
);
const nearTensor = edited(
  fc.oneof(
    fc.array(number, { maxLength: 8 }).map((row) => `[${row.join(',')}]`),
    fc
      .array(fc.array(number, { minLength: 1, maxLength: 4 }), { maxLength: 4 })
      .map((rows) => `{"z":[${rows.map((row) => `[${row.join(',')}]`).join(',')}]}`),
  ),
);

const randomText = fc.array(jsonChar, { maxLength: 30 }).map((chars) => chars.join(''));

/** Whether a parsed value holds a key the scanner refuses by design. */
const hasForbiddenKey = (text: string) =>
  /"(?:__proto__|constructor)"\s*:/.test(JSON.stringify(JSON.parse(text)));

describe('scanJson agrees with JSON.parse', () => {
  it('accepts exactly what JSON.parse accepts (near-valid and random texts, within the limits)', () => {
    fc.assert(
      fc.property(
        // The last variant renames a key to __proto__, so that the refusal of such keys meets syntax errors.
        fc.oneof(
          nearJson,
          nearTensor,
          randomText,
          fc.json(),
          nearJson.map((t) => t.replace(/"[^"\\]*":/, '"__proto__":')),
        ),
        (text) => {
          const bytes = Buffer.from(text, 'utf8');
          const problem = scanJson(bytes);
          const accepted = jsonParseAccepts(
            bytes.subarray(bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? 3 : 0),
          );
          if (problem?.kind === 'forbidden-key')
            expect(accepted && hasForbiddenKey(bytes.toString('utf8').replace(/^\ufeff/, ''))).toBe(true);
          else expect(problem === undefined, `${JSON.stringify(text)}: ${problem?.message}`).toBe(accepted);
          if (problem) expect(problem.offset).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('accepts invalid UTF-8 inside strings (decoded as U+FFFD) and refuses it outside, as JSON.parse does', () => {
    for (const bytes of [
      Buffer.from([0x22, 0xc3, 0x22]),
      Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]),
      Buffer.from([0x5b, 0xc3, 0x5d]),
      Buffer.from([0x31, 0x80]),
    ])
      expect(scan(bytes) === undefined, bytes.toString('hex')).toBe(jsonParseAccepts(bytes));
  });

  it('parseJson returns what JSON.parse returns for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        fc.pre(!/"(?:__proto__|constructor)":/.test(text));
        expect(parseJson(Buffer.from(text))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('parseJson of a large body (rows skipped by the limit scan) answers as scanJson then JSON.parse', () => {
    // Padded past 64 KiB with trailing spaces (JSON allows them; no offset moves): parseJson then skips rows.
    fc.assert(
      fc.property(fc.oneof(nearTensor, nearJson, randomText), fc.option(fc.nat(6)), (text, max) => {
        const bytes = Buffer.from(text.padEnd(70_000, ' '), 'utf8');
        const limit = max ?? Number.POSITIVE_INFINITY;
        const problem = scanJson(bytes, 0, bytes.length, limit);
        let thrown: unknown;
        let value: unknown;
        try {
          value = parseJson(bytes, 0, bytes.length, limit);
        } catch (error) {
          thrown = error;
        }
        if (problem) expect((thrown as JsonParseError)?.message, text).toBe(problem.message);
        else {
          expect(thrown, text).toBeUndefined();
          expect(value).toEqual(JSON.parse(bytes.toString('utf8').replace(/^\ufeff/, '')));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('never reads past end (a binary body: the JSON header is followed by other bytes)', () => {
    const body = Buffer.from('{"a":"\\u00' + '41"}');
    expect(scanJson(body, 0, 10)?.kind).toBe('syntax');
    expect(scanJson(Buffer.from('[1, 2]xx'), 0, 6)).toBeUndefined();
    expect(scanJson(Buffer.from('"ab\\'), 0, 4)?.reason).toMatch(/unterminated/);
  });
});

describe('scanJson says where and what', () => {
  it('points at the trailing comma of {"z": [1, 2,]} and says a value was expected', () => {
    const problem = scan('{"z": [1, 2,]}') as JsonParseError;
    expect(problem.kind).toBe('syntax');
    expect(problem.offset).toBe(12);
    expect([problem.line, problem.column]).toEqual([1, 13]);
    expect(problem.message).toBe(
      "expected a value (a trailing comma is not allowed), found ']' at line 1, column 13 (byte 12)",
    );
  });

  it('counts lines and characters, not bytes, for the column', () => {
    const problem = scan('{\n  "é€": 1,\n  "b": tru\n}') as JsonParseError;
    expect([problem.line, problem.column]).toEqual([3, 11]);
    expect(problem.message).toMatch(/^expected true, found byte 0x0a at line 3, column 11/);
  });

  it.each([
    ['', 'a value (an object, array, string, number, true, false or null), found the end of the text'],
    ['{"a" 1}', "':' after the key, found '1'"],
    ['{"a": 1,}', "a key (a trailing comma is not allowed), found '}'"],
    ["{'a': 1}", "a key (a string in double quotes), found '''"],
    ['[1 2]', "',' or ']', found '2'"],
    ['{"a": 1 "b": 2}', "',' or '}', found '\"'"],
    ['[01]', "',' or ']', found '1'"],
    ['[1.]', "a digit after the decimal point, found ']'"],
    ['[1e]', "a digit in the exponent, found ']'"],
    ['[-]', "a digit, found ']'"],
    ['[NaN]', "a value (an object, array, string, number, true, false or null), found 'N'"],
    ['{} {}', "the end of the text, found '{'"],
  ])('%j: expected %s', (text, what) => {
    expect(scan(text)?.reason).toBe(`expected ${what}`);
    expect(jsonParseAccepts(Buffer.from(text))).toBe(false);
  });

  it('names bad escapes, control characters and unterminated strings', () => {
    expect(scan('["\\x"]')?.reason).toMatch(/^invalid escape/);
    expect(scan('["\\u12g4"]')?.reason).toMatch(/^invalid \\u escape/);
    expect(scan('["a\tb"]')?.reason).toBe('unescaped control character byte 0x09 in a string');
    expect(scan('["abc')?.reason).toMatch(/^unterminated string/);
  });

  it('echoes at most one character of the body', () => {
    const problem = scan(`[${'x'.repeat(100_000)}]`) as JsonParseError;
    expect(problem.message.length).toBeLessThan(200);
  });
});

describe('scanJson limits', () => {
  const { maxDepth, maxContainers, maxKeysPerObject, maxKeys, maxStringBytes } = jsonLimits;

  it(`allows nesting ${maxDepth} deep and refuses one more, at the bracket that crosses it`, () => {
    expect(scan('['.repeat(maxDepth) + ']'.repeat(maxDepth))).toBeUndefined();
    const problem = scan(`{"z":${'['.repeat(4_000_000)}`) as JsonParseError;
    expect(problem).toMatchObject({ kind: 'limit', limit: 'maxDepth', offset: 5 + maxDepth - 1 });
    expect(problem.message).toMatch(/nesting deeper than 32/);
  });

  it(`allows ${maxContainers} arrays and objects in a body (a batch of a million rows) and refuses one more`, () => {
    const rows = (n: number) => `{"z":[${'[0],'.repeat(n - 3)}[0]]}`;
    expect(scan(rows(maxContainers))).toBeUndefined();
    const problem = scan(rows(maxContainers + 1)) as JsonParseError;
    expect(problem).toMatchObject({ kind: 'limit', limit: 'maxContainers' });
    expect(problem.reason).toMatch(/^more than 1,048,576 arrays and objects/);
    expect(scan(`[${'{},'.repeat(maxContainers)}{}]`)).toMatchObject({ limit: 'maxContainers' });
  });

  it(`allows ${maxKeysPerObject} keys in an object and refuses one more`, () => {
    const object = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}}`;
    expect(scan(object(maxKeysPerObject))).toBeUndefined();
    expect(scan(object(maxKeysPerObject + 1))).toMatchObject({ kind: 'limit', limit: 'maxKeysPerObject' });
    // Key counts are per object: closing one and opening a sibling starts again.
    const siblings = `[${Array.from({ length: 9 }, () => object(maxKeysPerObject)).join(',')}]`;
    expect(scan(siblings)).toBeUndefined();
  });

  it(`refuses more than ${maxKeys} keys in the whole body`, () => {
    const objects = Array.from({ length: maxKeys / 10 + 1 }, () => `{${'"a":0,'.repeat(9)}"a":0}`);
    expect(scan(`[${objects.join(',')}]`)).toMatchObject({ kind: 'limit', limit: 'maxKeys' });
    expect(scan(`[${objects.slice(1).join(',')}]`)).toBeUndefined();
  });

  it(`allows a string of ${maxStringBytes} bytes and refuses one more, keys and values, escapes counted as written`, () => {
    expect(scan(`["${'a'.repeat(maxStringBytes)}"]`)).toBeUndefined();
    expect(scan(`{"${'a'.repeat(maxStringBytes)}":1}`)).toBeUndefined();
    const long = scan(`["${'a'.repeat(maxStringBytes + 1)}"]`) as JsonParseError;
    expect(long).toMatchObject({ kind: 'limit', limit: 'maxStringBytes', offset: 1 });
    expect(scan(`{"${'\\n'.repeat(maxStringBytes / 2 + 1)}":1}`)).toMatchObject({ limit: 'maxStringBytes' });
    // A string that never ends is refused at the limit, not scanned to the end.
    expect(scan(`["${'a'.repeat(10 * maxStringBytes)}`)).toMatchObject({ limit: 'maxStringBytes' });
  });

  it('refuses __proto__ and constructor keys, also escaped, but not such values or longer keys', () => {
    for (const key of ['"__proto__"', '"\\u005f_proto__"', '"constructor"', '"\\u0063onstructo\\u0072"'])
      expect(scan(`{"a": {${key}: {"x": 1}}}`), key).toMatchObject({ kind: 'forbidden-key', offset: 7 });
    for (const text of ['{"a": "__proto__"}', '{"__proto": 1}', '{"constructors": 1}', '{"_\\n_proto__": 1}'])
      expect(scan(text), text).toBeUndefined();
  });

  it('skips a leading byte order mark, as Fastify does', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"z": [1]}')]);
    expect(scan(withBom)).toBeUndefined();
    expect(parseJson(withBom)).toEqual({ z: [1] });
  });
});

describe('the items of one array (maxArrayItems, the service passes MAX_ELEMENTS)', () => {
  const scanWith = (text: string, max: number) =>
    scanJson(Buffer.from(text), 0, Buffer.byteLength(text), max);

  it('refuses the item past the limit, at its byte, naming the top-level key that holds the array', () => {
    expect(scanWith('[1,2,3]', 3)).toBeUndefined();
    expect(scanWith('[1,2,3]', 2)).toMatchObject({ kind: 'limit', limit: 'maxArrayItems', offset: 5 });
    expect(scanWith('[1,2,3]', 2)?.field).toBeUndefined();
    // Rows within the limit, a row beyond it: the key is the field the tensor is in.
    expect(scanWith('{"a":1,"z":[[1,2],[3,4]]}', 2)).toBeUndefined();
    expect(scanWith('{"a":1,"z":[[1,2],[3,4,5]]}', 2)).toMatchObject({ limit: 'maxArrayItems', field: 'z' });
    expect(scanWith('{"z":[[1],[2],[3]]}', 2)).toMatchObject({
      limit: 'maxArrayItems',
      field: 'z',
      offset: 14,
    });
    // With spaces (the scanner's states) as without (its fast path for rows), and every kind of item.
    expect(scanWith('{"z" : [ 1 , 2 , 3 ] }', 2)).toMatchObject({ field: 'z', offset: 17 });
    expect(scanWith('{"\u007a":["a",true,null]}', 2)).toMatchObject({ field: 'z' });
    expect(scanWith('{"z":[1,2,3]}', 2)?.message).toBe(
      'more than 2 items in one array (the limit of items in one array) at line 1, column 11 (byte 10)',
    );
    // Keys are not items; an empty array has none; a syntax error before the item past the limit comes first.
    expect(scanWith('{"a":1,"b":2,"c":3}', 2)).toBeUndefined();
    expect(scanWith('[[],[],[]]', 3)).toBeUndefined();
    expect(scanWith('[1,2,]', 2)).toMatchObject({ kind: 'syntax' });
  });

  it('refuses exactly the texts whose largest array has more items than the limit', () => {
    const largestArray = (value: unknown): number => {
      if (value === null || typeof value !== 'object') return 0;
      const children = Object.values(value).map(largestArray);
      return Math.max(Array.isArray(value) ? value.length : 0, ...children);
    };
    fc.assert(
      fc.property(fc.oneof(fc.json(), nearTensor), fc.nat(6), (text, max) => {
        fc.pre(jsonParseAccepts(Buffer.from(text)) && !hasForbiddenKey(text));
        const problem = scanWith(text, max);
        expect(problem?.limit === 'maxArrayItems', text).toBe(largestArray(JSON.parse(text)) > max);
      }),
      { numRuns: 2000 },
    );
  });

  it('parseJson refuses before parsing: 2 million items with a limit of a million', () => {
    const body = Buffer.from(`{"z":[${'0,'.repeat(1_999_999)}0]}`);
    expect(() => parseJson(body, 0, body.length, 1_000_000)).toThrow(
      /more than 1,000,000 items in one array/,
    );
    expect((parseJson(body) as { z: number[] }).z).toHaveLength(2_000_000);
  });
});

describe('the limits as documented', () => {
  it('docs/errors.md states every limit with its value', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const { jsonLimitNames } = await import('../../src/codec/bounded-json.js');
    for (const [limit, value] of Object.entries(jsonLimits)) {
      const name = jsonLimitNames[limit as keyof typeof jsonLimits].split(' (')[0];
      expect(readme, limit).toMatch(new RegExp(`\\| ${name}[^|]*\\| ${value.toLocaleString('en')} \\|`));
    }
  });
});

describe('forbidden keys and syntax errors', () => {
  it('malformed text with a __proto__ key is a syntax error (found by the property test: {"__proto__"{:false})', () => {
    expect(scan('{"__proto__"{:false}')).toMatchObject({ kind: 'syntax', offset: 12 });
    expect(scan('{"__proto__":1')).toMatchObject({ kind: 'syntax' });
    expect(scan('{"a": {"constructor": 1}, "b": 2}')).toMatchObject({ kind: 'forbidden-key', offset: 7 });
  });
});
