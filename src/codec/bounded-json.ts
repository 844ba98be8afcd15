/**
 * JSON parsing with limits checked before anything is built. JSON.parse alone builds whatever the body
 * describes: `[` x 4,000,000 is 8 MB of text but hundreds of MB of nested arrays (and a recursive walk of
 * them overflows the stack), 200,000 keys in one object are 200,000 properties. So every body (JSON on /v1
 * and /v2, the JSON header of a binary body, on the event loop and in the worker pool) first goes through
 * scanJson: one linear pass over the bytes, no allocation that grows with the input, which accepts exactly
 * the texts JSON.parse accepts and refuses, at the byte where they are crossed, the limits below. Only then
 * does JSON.parse run, on a text known to be valid and bounded.
 *
 * API:
 * - `jsonLimits`: the limits (documented in the README and the OpenAPI description).
 * - `scanJson(bytes, start, end, maxArrayItems)`: undefined when the bytes are one valid JSON text within the
 *   limits, else a JsonParseError saying what and where (byte offset, line and column). maxArrayItems (the
 *   service passes MAX_ELEMENTS) bounds the items of any one array: 16 million numbers in 32 MB of `0,` are
 *   refused at the item past it, not built (~650 MB) and then counted.
 * - `parseJson(bytes, start, end, maxArrayItems)`: scanJson, then JSON.parse; throws the JsonParseError.
 *
 * Choices where JSON leaves room: a leading UTF-8 byte order mark is skipped (as Fastify's parser does);
 * a key named `__proto__` or `constructor` (also when written with \u escapes) is refused anywhere, since
 * code that copies keys with plain assignment would reach the prototype through it; duplicate keys are
 * allowed and the last one wins, as in JSON.parse.
 */

export const jsonLimits = {
  /** Arrays and objects nested inside each other; a /v2 tensor of rank 16 inside a request is depth 19. */
  maxDepth: 32,
  /**
   * Arrays and objects in the whole body. Each costs ~100 bytes of heap once built against 2-3 bytes of
   * text: 30 MB of `[],` was 1.4 GB. A batch [N][K] has N + 1 arrays, so N up to a million fits.
   */
  maxContainers: 1_048_576,
  /** Keys in any one object; the widest object of the API has a dozen. */
  maxKeysPerObject: 1000,
  /** Keys in all objects of a body together. */
  maxKeys: 10_000,
  /** Bytes of one string (a key or a value) as written in the body, escapes included. */
  maxStringBytes: 8192,
  /** Dimensions of a tensor shape (checked where shapes are read: binary headers and /v2 inputs). */
  maxRank: 16,
} as const;

/** The limits a scan checks: the fixed ones, and the items of one array (given per scan). */
export type JsonLimit = Exclude<keyof typeof jsonLimits, 'maxRank'> | 'maxArrayItems';

/** The per-scan limit in words, as jsonLimitNames has the fixed ones. */
export const arrayItemsLimitName = 'items in one array';

/** The limits in words, for error messages and documentation: "nesting depth 32", ... */
export const jsonLimitNames: Readonly<Record<keyof typeof jsonLimits, string>> = {
  maxDepth: 'nesting depth of arrays and objects',
  maxContainers: 'arrays and objects in the whole body',
  maxKeysPerObject: 'keys in one object',
  maxKeys: 'keys in the whole body',
  maxStringBytes: 'bytes in one string',
  maxRank: 'dimensions of a tensor shape',
};

export class JsonParseError extends Error {
  constructor(
    /** 'syntax': not JSON; 'limit': JSON beyond a limit; 'forbidden-key': a __proto__ or constructor key. */
    readonly kind: 'syntax' | 'limit' | 'forbidden-key',
    /** What was wrong, without the position (the message adds it). */
    readonly reason: string,
    /** Byte offset from the start of the scanned text, and its 1-based line and column (in characters). */
    readonly offset: number,
    readonly line: number,
    readonly column: number,
    /** For kind 'limit', which limit. */
    readonly limit?: JsonLimit,
    /** For maxArrayItems, the top-level key whose value holds the array (undefined: the body is the array). */
    readonly field?: string,
  ) {
    super(`${reason} at line ${line}, column ${column} (byte ${offset})`);
    this.name = 'JsonParseError';
  }
}

enum Char {
  Tab = 0x09,
  LineFeed = 0x0a,
  CarriageReturn = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  Zero = 0x30,
  One = 0x31,
  Nine = 0x39,
  Colon = 0x3a,
  UpperE = 0x45,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  LowerB = 0x62,
  LowerE = 0x65,
  LowerF = 0x66,
  LowerN = 0x6e,
  LowerR = 0x72,
  LowerT = 0x74,
  LowerU = 0x75,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

const isWhitespace = (c: number) =>
  c === Char.Space || c === Char.LineFeed || c === Char.CarriageReturn || c === Char.Tab;
const isDigit = (c: number) => c >= Char.Zero && c <= Char.Nine;
const isHex = (c: number) => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);

/** The byte at i as the messages show it: a printable ASCII character quoted, else its hex value. */
function describe(bytes: Uint8Array, i: number, end: number): string {
  if (i >= end) return 'the end of the text';
  const c = bytes[i];
  if (c > 0x20 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${c.toString(16).padStart(2, '0')}`;
}

function fail(
  bytes: Uint8Array,
  start: number,
  i: number,
  kind: JsonParseError['kind'],
  reason: string,
  limit?: JsonLimit,
): JsonParseError {
  // Only on failure: count lines and characters (UTF-8 lead bytes) up to the offset.
  let line = 1;
  let column = 1;
  for (let j = start; j < i; j++) {
    const c = bytes[j];
    if (c === Char.LineFeed) {
      line++;
      column = 1;
    } else if ((c & 0xc0) !== 0x80) column++;
  }
  return new JsonParseError(kind, reason, i - start, line, column, limit);
}

const forbiddenKeys = ['__proto__', 'constructor'];

/**
 * Whether the key written in bytes[from, to) (between its quotes, escapes undecoded) is `target`. Decodes
 * escapes on the fly, so `"\u005f_proto__"` is caught too, without building a string.
 */
function keyEquals(bytes: Uint8Array, from: number, to: number, target: string): boolean {
  let k = 0;
  for (let i = from; i < to; k++) {
    if (k >= target.length) return false;
    let unit = bytes[i];
    if (unit === Char.Backslash) {
      const e = bytes[i + 1];
      if (e === Char.LowerU) {
        unit = Number.parseInt(
          String.fromCharCode(bytes[i + 2], bytes[i + 3], bytes[i + 4], bytes[i + 5]),
          16,
        );
        i += 6;
      } else {
        // Escapes of one character stand for themselves except these; none of them is in a forbidden key.
        unit = e;
        i += 2;
      }
    } else i++;
    if (unit !== target.charCodeAt(k)) return false;
  }
  return k === target.length;
}

function isForbiddenKey(bytes: Uint8Array, from: number, to: number): string | undefined {
  const length = to - from;
  // Each character of a forbidden key takes 1 to 6 bytes (\uXXXX).
  for (const key of forbiddenKeys)
    if (length >= key.length && length <= key.length * 6 && keyEquals(bytes, from, to, key)) return key;
  return undefined;
}

// The open containers, innermost last: whether each is an object, and its key count (an object) or item
// count (an array). Reused by every scan (a scan runs to its end synchronously, so one per thread suffices).
const isObjectAt = new Uint8Array(jsonLimits.maxDepth + 1);
const keysAt = new Int32Array(jsonLimits.maxDepth + 1);
const itemsAt = new Float64Array(jsonLimits.maxDepth + 1);

// scanString's failures: negative codes, with the offending byte in stringFailureAt.
const unterminated = -1;
const tooLong = -2;
const badUnicodeEscape = -3;
const badEscape = -4;
const controlCharacter = -5;
let stringFailureAt = 0;

/** Scans the string whose opening quote is at i: the index after its closing quote, or a failure code. */
function scanString(bytes: Uint8Array, i: number, end: number): number {
  const contentStart = ++i;
  // The closing quote may stand right after maxStringBytes bytes of content.
  const last = Math.min(end, contentStart + jsonLimits.maxStringBytes + 1);
  for (;;) {
    if (i >= last) {
      stringFailureAt = i;
      return i >= end ? unterminated : tooLong;
    }
    const c = bytes[i];
    if (c === Char.Quote) return i + 1;
    if (c === Char.Backslash) {
      // Escapes are never read past end: a binary body's JSON header is followed by other bytes.
      const e = i + 1 < end ? bytes[i + 1] : -1;
      if (e === Char.LowerU) {
        if (
          i + 5 >= end ||
          !(isHex(bytes[i + 2]) && isHex(bytes[i + 3]) && isHex(bytes[i + 4]) && isHex(bytes[i + 5]))
        ) {
          stringFailureAt = i;
          return badUnicodeEscape;
        }
        i += 6;
      } else if (
        e === Char.Quote ||
        e === Char.Backslash ||
        e === Char.Slash ||
        e === Char.LowerB ||
        e === Char.LowerF ||
        e === Char.LowerN ||
        e === Char.LowerR ||
        e === Char.LowerT
      )
        i += 2;
      else {
        stringFailureAt = i;
        return e === -1 ? unterminated : badEscape;
      }
    } else if (c < 0x20) {
      stringFailureAt = i;
      return controlCharacter;
    } else i++;
  }
}

function stringError(bytes: Uint8Array, start: number, end: number, code: number, quoteAt: number) {
  const at = stringFailureAt;
  switch (code) {
    case unterminated:
      return fail(
        bytes,
        start,
        at,
        'syntax',
        "unterminated string: expected '\"', found the end of the text",
      );
    case tooLong:
      return fail(
        bytes,
        start,
        quoteAt,
        'limit',
        `a string longer than ${jsonLimits.maxStringBytes} bytes (the limit of ${jsonLimitNames.maxStringBytes}) starts`,
        'maxStringBytes',
      );
    case badUnicodeEscape:
      return fail(bytes, start, at, 'syntax', 'invalid \\u escape: expected 4 hexadecimal digits after \\u');
    case badEscape:
      return fail(
        bytes,
        start,
        at,
        'syntax',
        'invalid escape: expected one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after a backslash',
      );
    default:
      return fail(
        bytes,
        start,
        at,
        'syntax',
        `unescaped control character ${describe(bytes, at, end)} in a string`,
      );
  }
}

const expected = (bytes: Uint8Array, start: number, i: number, end: number, what: string) =>
  fail(bytes, start, i, 'syntax', `expected ${what}, found ${describe(bytes, i, end)}`);

// scanNumber's failures: what was expected, at numberFailureAt.
const missingDigit = -1;
const missingFractionDigit = -2;
const missingExponentDigit = -3;
let numberFailureAt = 0;

/** Scans the number starting at i (a '-' or a digit): the index after it, or a failure code. */
function scanNumber(bytes: Uint8Array, i: number, end: number): number {
  if (bytes[i] === Char.Minus) i++;
  if (i < end && bytes[i] === Char.Zero) i++;
  else if (i < end && bytes[i] >= Char.One && bytes[i] <= Char.Nine) {
    i++;
    while (i < end && isDigit(bytes[i])) i++;
  } else {
    numberFailureAt = i;
    return missingDigit;
  }
  if (i < end && bytes[i] === Char.Dot) {
    i++;
    if (!(i < end && isDigit(bytes[i]))) {
      numberFailureAt = i;
      return missingFractionDigit;
    }
    while (i < end && isDigit(bytes[i])) i++;
  }
  if (i < end && (bytes[i] | 0x20) === Char.LowerE) {
    i++;
    if (i < end && (bytes[i] === Char.Plus || bytes[i] === Char.Minus)) i++;
    if (!(i < end && isDigit(bytes[i]))) {
      numberFailureAt = i;
      return missingExponentDigit;
    }
    while (i < end && isDigit(bytes[i])) i++;
  }
  return i;
}

/** The refusal of an array's item past maxArrayItems, at i, naming the top-level key (its quote at fieldAt). */
function tooManyItems(
  bytes: Uint8Array,
  start: number,
  i: number,
  end: number,
  fieldAt: number,
  max: number,
) {
  const problem = fail(
    bytes,
    start,
    i,
    'limit',
    `more than ${max.toLocaleString('en')} items in one array (the limit of ${arrayItemsLimitName})`,
    'maxArrayItems',
  );
  if (fieldAt < 0) return problem;
  // The key was scanned already: a valid JSON string, short (maxStringBytes).
  const field = JSON.parse(
    Buffer.from(bytes.buffer, bytes.byteOffset + fieldAt, scanString(bytes, fieldAt, end) - fieldAt).toString(
      'utf8',
    ),
  ) as string;
  const { kind, reason, offset, line, column, limit } = problem;
  return new JsonParseError(kind, reason, offset, line, column, limit, field);
}

const numberError = (bytes: Uint8Array, start: number, end: number, code: number) =>
  expected(
    bytes,
    start,
    numberFailureAt,
    end,
    code === missingDigit
      ? 'a digit'
      : code === missingFractionDigit
        ? 'a digit after the decimal point'
        : 'a digit in the exponent',
  );

const skipWhitespace = (bytes: Uint8Array, i: number, end: number): number => {
  while (i < end && isWhitespace(bytes[i])) i++;
  return i;
};

/** Skips a leading UTF-8 byte order mark: not JSON, but Fastify's parser (secure-json-parse) skips one. */
const afterByteOrderMark = (bytes: Uint8Array, i: number, end: number): number =>
  end - i >= 3 && bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf ? i + 3 : i;

// The scanner's states between tokens: a value must come; a key must come (after '{' or ','); a value has
// just ended (',' or a closing bracket must come, or the end of the text at depth 0).
const valueState = 0;
const keyState = 1;
const afterValueState = 2;

/** Whether c can start a JSON value (the scanner then counts it as an item of the array it is in). */
const startsValue = (c: number) =>
  c === Char.OpenBracket ||
  c === Char.OpenBrace ||
  c === Char.Quote ||
  c === Char.Minus ||
  isDigit(c) ||
  c === Char.LowerT ||
  c === Char.LowerF ||
  c === Char.LowerN;

/**
 * Checks that bytes[start, end) is one JSON text (RFC 8259: exactly what JSON.parse accepts once decoded as
 * UTF-8) within jsonLimits and with at most maxArrayItems items in any one array. Returns undefined when it
 * is, else the first problem met, at its byte.
 */
export function scanJson(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
  maxArrayItems = Number.POSITIVE_INFINITY,
): JsonParseError | undefined {
  return scan(bytes, start, end, maxArrayItems, false);
}

/** The index of the next byte c in view at or after from, or end when there is none before end (memchr). */
function nextIndex(view: Buffer, c: number, from: number, end: number): number {
  const at = view.indexOf(c, from);
  return at < 0 || at >= end ? end : at;
}

/**
 * scanJson, and with skipRows, a scan that proves the limits without checking every number: a run of an
 * array's items that holds no array, object or string (a tensor's row: numbers and commas up to its ']', found
 * with memchr) is skipped whole, its items counted at most (bytes + 1) / 2. Whatever JSON.parse would build from
 * such a run is numbers and literals within that count, so the limits hold for it; but a malformed number in
 * it goes unseen: only a text JSON.parse then accepts is known valid (parseJson rescans the others).
 */
function scan(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxArrayItems: number,
  skipRows: boolean,
): JsonParseError | undefined {
  const { maxDepth, maxContainers, maxKeysPerObject, maxKeys } = jsonLimits;
  let i = afterByteOrderMark(bytes, start, end);
  const view = skipRows ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
  // With skipRows, the next '[', '{' and '"' (each searched again once passed).
  let nextOpenBracketAt = -1;
  let nextOpenBraceAt = -1;
  let nextQuoteAt = -1;
  let depth = 0;
  let containers = 0;
  // The opening quote of the first __proto__ or constructor key, or -1.
  let forbiddenKeyAt = -1;
  // The opening quote of the current top-level key (the field an array is in), or -1.
  let fieldAt = -1;
  let totalKeys = 0;
  let state = valueState;
  for (;;) {
    i = skipWhitespace(bytes, i, end);
    if (state === valueState) {
      const c = i < end ? bytes[i] : -1;
      // An item of an array (counted once it starts like a value: a stray byte there is a syntax error).
      if (depth > 0 && isObjectAt[depth] === 0 && startsValue(c) && ++itemsAt[depth] > maxArrayItems)
        return tooManyItems(bytes, start, i, end, fieldAt, maxArrayItems);
      if (c === Char.OpenBracket || c === Char.OpenBrace) {
        if (depth === maxDepth)
          return fail(
            bytes,
            start,
            i,
            'limit',
            `nesting deeper than ${maxDepth} (the limit of ${jsonLimitNames.maxDepth})`,
            'maxDepth',
          );
        if (++containers > maxContainers)
          return fail(
            bytes,
            start,
            i,
            'limit',
            `more than ${maxContainers.toLocaleString('en')} arrays and objects (the limit of ${jsonLimitNames.maxContainers})`,
            'maxContainers',
          );
        depth++;
        i = skipWhitespace(bytes, i + 1, end);
        const object = c === Char.OpenBrace;
        isObjectAt[depth] = object ? 1 : 0;
        keysAt[depth] = 0;
        itemsAt[depth] = 0;
        if (i < end && bytes[i] === (object ? Char.CloseBrace : Char.CloseBracket)) {
          i++;
          depth--;
          state = afterValueState;
        } else state = object ? keyState : valueState;
        continue;
      }
      if (c === Char.Quote) {
        const quoteAt = i;
        i = scanString(bytes, i, end);
        if (i < 0) return stringError(bytes, start, end, i, quoteAt);
      } else if (c === Char.Minus || isDigit(c)) {
        if (view && depth > 0 && isObjectAt[depth] === 0) {
          const closeAt = nextIndex(view, Char.CloseBracket, i, end);
          if (nextOpenBracketAt < i) nextOpenBracketAt = nextIndex(view, Char.OpenBracket, i, end);
          if (nextOpenBraceAt < i) nextOpenBraceAt = nextIndex(view, Char.OpenBrace, i, end);
          if (nextQuoteAt < i) nextQuoteAt = nextIndex(view, Char.Quote, i, end);
          // This item and the rest of the array up to closeAt, one byte each at least and commas between.
          const mostItems = (closeAt - i + 1) >> 1;
          if (
            closeAt < end &&
            closeAt < nextOpenBracketAt &&
            closeAt < nextOpenBraceAt &&
            closeAt < nextQuoteAt &&
            itemsAt[depth] - 1 + mostItems <= maxArrayItems
          ) {
            itemsAt[depth] += mostItems - 1;
            i = closeAt;
            state = afterValueState;
            continue;
          }
        }
        i = scanNumber(bytes, i, end);
        if (i < 0) return numberError(bytes, start, end, i);
        // A tensor's row: numbers separated by bare commas. Scanned here without a trip through the states per
        // number (what the states would do: after a value in an array, ',' then a value); anything else (space,
        // ']', an error) leaves the loop where the states take over.
        if (depth > 0 && isObjectAt[depth] === 0)
          while (i + 1 < end && bytes[i] === Char.Comma) {
            const next = bytes[i + 1];
            if (next !== Char.Minus && !isDigit(next)) break;
            if (++itemsAt[depth] > maxArrayItems)
              return tooManyItems(bytes, start, i + 1, end, fieldAt, maxArrayItems);
            i = scanNumber(bytes, i + 1, end);
            if (i < 0) return numberError(bytes, start, end, i);
          }
      } else if (c === Char.LowerT || c === Char.LowerF || c === Char.LowerN) {
        const word = c === Char.LowerT ? 'true' : c === Char.LowerF ? 'false' : 'null';
        for (let k = 0; k < word.length; k++, i++)
          if (i >= end || bytes[i] !== word.charCodeAt(k)) return expected(bytes, start, i, end, word);
      } else
        return expected(
          bytes,
          start,
          i,
          end,
          c === Char.CloseBracket
            ? 'a value (a trailing comma is not allowed)'
            : 'a value (an object, array, string, number, true, false or null)',
        );
      state = afterValueState;
    } else if (state === keyState) {
      if (i >= end || bytes[i] !== Char.Quote)
        return expected(
          bytes,
          start,
          i,
          end,
          i < end && bytes[i] === Char.CloseBrace
            ? 'a key (a trailing comma is not allowed)'
            : 'a key (a string in double quotes)',
        );
      if (++keysAt[depth] > maxKeysPerObject)
        return fail(
          bytes,
          start,
          i,
          'limit',
          `more than ${maxKeysPerObject} keys in one object (the limit of ${jsonLimitNames.maxKeysPerObject})`,
          'maxKeysPerObject',
        );
      if (++totalKeys > maxKeys)
        return fail(
          bytes,
          start,
          i,
          'limit',
          `more than ${maxKeys} keys in the body (the limit of ${jsonLimitNames.maxKeys})`,
          'maxKeys',
        );
      const quoteAt = i;
      if (depth === 1) fieldAt = quoteAt;
      i = scanString(bytes, i, end);
      if (i < 0) return stringError(bytes, start, end, i, quoteAt);
      // Reported once the text is known to be JSON: malformed text is a syntax error, whatever its keys.
      if (forbiddenKeyAt < 0 && isForbiddenKey(bytes, quoteAt + 1, i - 1)) forbiddenKeyAt = quoteAt;
      i = skipWhitespace(bytes, i, end);
      if (i >= end || bytes[i] !== Char.Colon) return expected(bytes, start, i, end, "':' after the key");
      i++;
      state = valueState;
    } else {
      if (depth === 0) {
        if (i < end) return expected(bytes, start, i, end, 'the end of the text');
        if (forbiddenKeyAt < 0) return undefined;
        const key = isForbiddenKey(bytes, forbiddenKeyAt + 1, scanString(bytes, forbiddenKeyAt, end) - 1);
        return fail(
          bytes,
          start,
          forbiddenKeyAt,
          'forbidden-key',
          `the key "${key}" is not allowed (code that copies keys could reach a prototype through it)`,
        );
      }
      const c = i < end ? bytes[i] : -1;
      const object = isObjectAt[depth] === 1;
      if (c === Char.Comma) state = object ? keyState : valueState;
      else if (c === (object ? Char.CloseBrace : Char.CloseBracket)) depth--;
      else return expected(bytes, start, i, end, object ? "',' or '}'" : "',' or ']'");
      i++;
    }
  }
}

/**
 * Bodies from this size on are scanned skipping their rows (see scan): below, a few memchr calls per row cost
 * more than the digits they skip.
 */
const skipRowsFrom = 65_536;

/** scanJson, then JSON.parse of the decoded text: the value, or a JsonParseError (thrown). */
export function parseJson(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
  maxArrayItems = Number.POSITIVE_INFINITY,
): unknown {
  // A large body's rows are skipped by the limit scan (memchr instead of a JS loop over every digit) and their
  // numbers checked by JSON.parse itself; a text either refuses is scanned in full, for the first problem.
  const skipRows = end - start >= skipRowsFrom;
  const problem = scan(bytes, start, end, maxArrayItems, skipRows);
  if (problem) throw (skipRows && scanJson(bytes, start, end, maxArrayItems)) || problem;
  const from = afterByteOrderMark(bytes, start, end);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + from, end - from).toString('utf8');
  if (!skipRows) return JSON.parse(text);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw scanJson(bytes, start, end, maxArrayItems) ?? error;
  }
}
