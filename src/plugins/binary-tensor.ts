/**
 * Tensors that do not travel as JSON arrays, on the same /v1 routes:
 *
 * - Binary bodies: Content-Type `application/vnd.gradient-service.tensor+octet-stream`, the Open Inference
 *   Protocol binary tensor extension (src/codec/binary-tensor.ts): a JSON header of
 *   `Inference-Header-Content-Length` bytes holding the route's other fields (params, activation, ...) and
 *   `inputs: [{ name, shape, datatype, parameters: { binary_data_size } }]`, one per tensor field (name = the
 *   JSON field, shape [K] or [N, K], FP64 or FP32), then the raw little-endian row-major bytes. Replies in
 *   the same form when Accept asks for it (see replyFormat).
 * - Large JSON bodies: parsed into float64 tensors by the worker pool, off the event loop.
 *
 * Either way the body reaches the route with PackedTensor fields where JSON arrays would be. Schema
 * validation still runs: a binary body's JSON header against the route's binary schema (src/schemas/binary.ts),
 * a packed JSON body against the JSON schema with each tensor stood in by [0] or [[0]] (its data was checked in
 * the worker already); the packed tensors are put back before the handler.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  BinaryTensorError,
  decodeFloats,
  elementSize,
  headerLengthHeader,
  parseBinaryBody,
} from '../codec/binary-tensor.js';
import { JsonParseError, parseJson } from '../codec/bounded-json.js';
import { PackedTensor } from '../core/tensor.js';
import { InvalidRequestError, ServiceError, TooManyElementsError } from '../errors.js';
import { type ReplyFormat, tensorMediaType } from '../serialize/reply.js';
import { jsonBytesPerElement, type OffloadConfig } from '../workers/config.js';
import { OffloadPool } from '../workers/pool.js';

export { tensorMediaType };

declare module 'fastify' {
  interface FastifyInstance {
    /** The worker pool for large requests (src/workers/pool.ts). */
    offload: OffloadPool;
  }
}

type Body = Record<string, unknown>;

/** Bodies whose tensors arrived packed, until the handler gets them: body -> (field -> tensor). */
const packedBodies = new WeakMap<object, { kind: 'json' | 'binary'; tensors: Map<string, PackedTensor> }>();

/** A binary body -> its JSON header, with the decoded tensors remembered for the handler. */
function decodeBinaryRequest(body: Buffer, headerLength: unknown, maxElements: number): Body {
  // A BinaryTensorError is left to classifyError (problem.ts): malformed JSON, a parsing limit, a 413 or a 400.
  const { header, chunks } = parseBinaryBody(
    body,
    typeof headerLength === 'string' ? headerLength : undefined,
  );
  const inputs = header.inputs;
  if (!Array.isArray(inputs))
    throw new InvalidRequestError([
      { path: '/inputs', message: 'is required: one { name, shape, datatype, parameters } per tensor field' },
    ]);
  const tensors = new Map<string, PackedTensor>();
  for (const [i, input] of (inputs as Record<string, unknown>[]).entries()) {
    const at = (field: string, message: string) =>
      new InvalidRequestError([{ path: `/inputs/${i}${field}`, message }]);
    const { name, shape, datatype } = input;
    if (typeof name !== 'string') throw at('/name', 'must be the name of a tensor field (e.g. z)');
    if (tensors.has(name)) throw at('/name', `${name} appears twice`);
    if (
      !Array.isArray(shape) ||
      shape.length < 1 ||
      shape.length > 2 ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 1)
    )
      throw at('/shape', 'must be [K] (one sample) or [N, K] (a batch) of positive integers');
    const count = shape.reduce((n: number, d: number) => n * d, 1);
    if (count > maxElements) throw new TooManyElementsError(name, count, maxElements);
    let data: Float64Array;
    try {
      elementSize(datatype);
      let bytes: Uint8Array | undefined = chunks.get(name);
      if (bytes) {
        // Unaligned float64 would be decoded element by element: one bulk copy to an aligned buffer is faster.
        if (datatype === 'FP64' && bytes.byteOffset % 8 !== 0) bytes = new Uint8Array(bytes);
        data = decodeFloats(bytes, datatype);
      } else if (Array.isArray(input.data)) {
        if (input.data.length !== count)
          throw at(
            '/data',
            `has ${input.data.length} numbers but shape ${JSON.stringify(shape)} needs ${count}`,
          );
        data = new Float64Array(count);
        // Inline FP32 data is read as float32, as its bytes would be (and as /v2 reads it): 1e300 is beyond
        // the FP32 range, not a float64 that happens to be declared FP32.
        const fp32 = datatype === 'FP32';
        for (let j = 0; j < count; j++) {
          const v = input.data[j];
          if (typeof v !== 'number') throw at(`/data/${j}`, 'must be a number');
          data[j] = fp32 ? Math.fround(v) : v;
          if (!Number.isFinite(data[j]))
            throw at(
              `/data/${j}`,
              `must be a finite number${fp32 ? ' within the FP32 range (±3.4028234663852886e38)' : ''} (got ${v})`,
            );
        }
      } else
        throw at('', 'needs parameters.binary_data_size (bytes after the header) or data (a flat array)');
    } catch (error) {
      throw error instanceof BinaryTensorError ? at('/datatype', error.message) : error;
    }
    for (let j = 0; j < data.length; j++)
      if (!Number.isFinite(data[j])) throw at('', `element ${j} is ${data[j]}: tensors must be finite`);
    const batched = shape.length === 2;
    tensors.set(name, new PackedTensor(data, batched ? shape[0] : 1, batched ? shape[1] : shape[0], batched));
  }
  packedBodies.set(header, { kind: 'binary', tensors });
  return header;
}

/**
 * A JSON body parsed here, on the event loop; an empty one is Fastify's error, as without this parser. An array
 * of more than maxElements items is refused by the scan before parsing, as the tensor it would be.
 */
function parseOnEventLoop(
  body: Buffer,
  maxElements: number,
  done: (error: Error | null, value?: unknown) => void,
): void {
  if (body.length === 0) {
    done(new ServiceError(400, 'malformed-json', 'The body is empty: send a JSON object.'));
    return;
  }
  let value: unknown;
  try {
    value = parseJson(body, 0, body.length, maxElements);
  } catch (error) {
    done(
      error instanceof JsonParseError && error.limit === 'maxArrayItems'
        ? new TooManyElementsError(error.field ?? 'The body', undefined, maxElements)
        : (error as Error),
    );
    return;
  }
  done(null, value);
}

/**
 * q of the most specific media range in an Accept header matching `type`: 0 when that range refuses it
 * (q=0), -1 when no range matches at all.
 */
function quality(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let q = -1;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity <= best) continue;
    best = specificity;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    q = qParam ? Number(qParam.slice(2)) || 0 : 1;
  }
  return q;
}

/**
 * The reply's form: binary when Accept prefers the tensor media type to JSON, JSON when it prefers JSON;
 * without a preference (no Accept, or * / *), the form of the request. A form the client refuses (q=0) is
 * never sent: when it accepts neither, JSON unless JSON is the one it refused.
 */
export function replyFormat(request: FastifyRequest): ReplyFormat {
  const binaryRequest = request.headers['content-type']?.toLowerCase().startsWith(tensorMediaType) === true;
  const accept = request.headers.accept;
  if (!accept) return binaryRequest ? 'binary' : 'json';
  const binary = quality(accept, tensorMediaType);
  const json = quality(accept, 'application/json');
  if (binary > 0 || json > 0) {
    if (binary !== json) return binary > json ? 'binary' : 'json';
    return binaryRequest ? 'binary' : 'json';
  }
  if (binary === 0) return 'json';
  if (json === 0) return 'binary';
  return binaryRequest ? 'binary' : 'json';
}

export default fp(
  async (app: FastifyInstance, options: { offload: OffloadConfig; maxElements: number }) => {
    const { maxElements } = options;
    const pool = new OffloadPool(options.offload);
    app.decorate('offload', pool);
    app.addHook('onClose', () => pool.close());

    app.addContentTypeParser(tensorMediaType, { parseAs: 'buffer' }, (request, body, done) => {
      try {
        done(null, decodeBinaryRequest(body as Buffer, request.headers[headerLengthHeader], maxElements));
      } catch (error) {
        done(error as Error, undefined);
      }
    });

    // Every JSON body goes through the bounded parser (src/codec/bounded-json.ts): limits and the position of
    // a syntax error, before anything is built. Large bodies are parsed in the pool; one the pool cannot pack
    // (malformed, beyond a limit, not tensors) comes back and is parsed here, which finds the same problem.
    const offloadBytes = pool.config.threshold > 0 ? pool.config.threshold * jsonBytesPerElement : Infinity;
    app.removeContentTypeParser('application/json');
    // Callback style, not async: small bodies (nearly all) are parsed at once, no promise.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, raw, done) => {
      const body = raw as Buffer;
      if (body.length < offloadBytes) return parseOnEventLoop(body, maxElements, done);
      pool.parseJson(body, maxElements).then((parsed) => {
        if ('fallback' in parsed) return parseOnEventLoop(parsed.fallback, maxElements, done);
        const { keys, values, tensors } = parsed.packed;
        const out: Body = {};
        const packed = new Map<string, PackedTensor>();
        for (const t of tensors) packed.set(t.name, new PackedTensor(t.data, t.rows, t.cols, t.batched));
        for (const key of keys) out[key] = packed.get(key) ?? values[key];
        packedBodies.set(out, { kind: 'json', tensors: packed });
        done(null, out);
      }, done);
    });

    // Callback hooks, not async ones: they run on every request and mostly return at once.
    app.addHook('preValidation', (request, _reply, done) => {
      // Fastify validates a body by its Content-Type when a route has one schema per type: without a
      // Content-Type (and so without a body) nothing would check it.
      if (request.body === undefined && (request.routeOptions.schema?.body as { content?: unknown })?.content)
        return done(new ServiceError(400, 'malformed-json', 'The body is missing: send a JSON object.'));
      const packed = packedBodies.get(request.body as object);
      if (packed?.kind !== 'json') return done();
      const skeleton: Body = { ...(request.body as Body) };
      for (const [name, t] of packed.tensors) {
        if (t.data.length > maxElements)
          return done(new TooManyElementsError(name, t.data.length, maxElements));
        skeleton[name] = t.batched ? [[0]] : [0];
      }
      packedBodies.set(skeleton, packed);
      request.body = skeleton;
      done();
    });
    app.addHook('preHandler', (request, _reply, done) => {
      const packed = packedBodies.get(request.body as object);
      if (!packed) return done();
      const body: Body = { ...(request.body as Body) };
      if (packed.kind === 'binary') delete body.inputs;
      for (const [name, t] of packed.tensors) body[name] = t;
      request.body = body;
      done();
    });
  },
  { name: 'binary-tensor', dependencies: ['problem'] },
);
