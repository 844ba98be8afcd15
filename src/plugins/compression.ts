/**
 * Content codings, both ways, on every surface.
 *
 * Request bodies with `Content-Encoding: gzip`, `deflate` (the zlib format, RFC 9110 8.4.1.2) or `br` are
 * decoded as they stream in, before any parser sees them; a list of codings is undone last to first. The
 * decoded size is bounded by the route's body limit (BODY_LIMIT): the decoder is stopped and the request
 * refused with a 413 as soon as one chunk more than the limit has been inflated, so a decompression bomb costs
 * at most BODY_LIMIT bytes of inflating, never its full size. Any other coding is a 415 naming the supported
 * ones; a body that does not decode is a 400.
 *
 * Hand-written rather than @fastify/compress's request side (its `requestEncodings`), for two reasons read in
 * its index.js (9.2.0): it pipes the request into the decoder with stream.pipeline, which destroys the request,
 * and with it the socket, when decoding fails (the 400 is never written); and past the body limit Fastify
 * only stops listening, so the decoder goes on inflating the whole bomb. It also takes one coding only.
 *
 * Replies are compressed by @fastify/compress when Accept-Encoding allows and the reply is at least
 * `threshold` bytes: JSON, problem+json and the binary tensor bodies alike (docs/compression.md has the
 * measured sizes and times).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import {
  MalformedEncodingError,
  PayloadTooLargeError,
  type ServiceError,
  UnsupportedContentEncodingError,
} from '../errors.js';

/** The decoders by coding name (x-gzip is gzip's old alias, RFC 9110 8.4.1.3). */
const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

export const requestEncodings = ['gzip', 'deflate', 'br'] as const;

/** Reply codings, in the server's order of preference when a client accepts several. */
export const replyEncodings = ['gzip', 'deflate', 'br'] as const;

/** Smallest reply compressed: below it the coding's framing and the CPU cost more than the bytes saved. */
export const compressionThreshold = 1024;

/**
 * The replies worth compressing: text and JSON (problem+json included). Not the binary tensor bodies, whose
 * float64 bytes gzip shrinks by 6% for 60% more time (docs/compression.md), nor anything else
 * @fastify/compress's default would take (its default includes octet-stream).
 */
const compressedTypes = (type: string): boolean => /^text\/(?!event-stream)|[+/]json(?:;|$)/.test(type);

/**
 * gzip and deflate level 1: on a 1e6-number JSON reply (19.5 MB), 9.1 MB in 0.3 s against level 6's (zlib's
 * default) 8.7 MB in 1.5 s (docs/compression.md).
 */
const gzipLevel = 1;

/** Whether a request carries a body (as Fastify decides before parsing one): a length above 0, or chunks. */
export const hasBody = (headers: IncomingHttpHeaders): boolean =>
  headers['transfer-encoding'] !== undefined ||
  (headers['content-length'] !== undefined && headers['content-length'] !== '0');

/** The codings of a Content-Encoding header, in the order they were applied; identity is no coding. */
function codingsOf(header: string): string[] {
  return header
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

/** What Fastify's body reader reads: the decoded bytes, and how many raw bytes arrived (for Content-Length). */
type DecodedBody = Transform & { receivedEncodedLength: number };

/**
 * `raw` decoded by `codings` (last applied, first undone), stopped with a 413 past `limit` decoded bytes and
 * with a 400 on data that does not decode. The raw request is unpiped, never destroyed: the error is answered
 * on its socket (linger.ts reads and discards the rest of the body).
 */
export function decodeBody(
  raw: NodeJS.ReadableStream,
  codings: readonly string[],
  limit: number,
): DecodedBody {
  const stages = [...codings].reverse().map((c) => decoders[c]());
  let decoded = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      decoded += chunk.length;
      if (decoded > limit)
        return callback(
          new PayloadTooLargeError(
            `The body is larger than the limit of ${limit} bytes (BODY_LIMIT) once decoded from ${codings.join(', ')}.`,
          ),
        );
      callback(null, chunk);
    },
  }) as DecodedBody;
  out.receivedEncodedLength = 0;
  const count = (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length;
  };
  raw.on('data', count);

  let stopped = false;
  const stop = (error: ServiceError) => {
    if (stopped) return;
    stopped = true;
    raw.removeListener('data', count);
    raw.unpipe(stages[0]);
    for (const stage of stages) stage.destroy();
    out.destroy(error);
  };
  stages.forEach((stage, i) => {
    stage.on('error', (error: Error) =>
      stop(
        new MalformedEncodingError(
          `The body is not valid ${[...codings].reverse()[i]} data (Content-Encoding): ${error.message}.`,
        ),
      ),
    );
  });
  out.on('error', (error) => stop(error as ServiceError));

  let last: NodeJS.ReadableStream = raw;
  for (const stage of stages) last = last.pipe(stage);
  last.pipe(out);
  return out;
}

export default fp(
  async (app: FastifyInstance) => {
    app.addHook('preParsing', (request, _reply, payload, done) => {
      const header = request.headers['content-encoding'];
      // Unmatched requests are answered before their body (problem.ts); bodiless ones have nothing to decode.
      if (header === undefined || request.is404 || !hasBody(request.headers)) return done(null, payload);
      const codings = codingsOf(header);
      if (codings.length === 0) return done(null, payload);
      const unknown = codings.find((c) => !Object.hasOwn(decoders, c));
      if (unknown !== undefined)
        return done(new UnsupportedContentEncodingError(unknown, requestEncodings), payload);
      done(null, decodeBody(payload, codings, request.routeOptions.bodyLimit));
    });

    // Replies only: request bodies are decoded above.
    await app.register(compress, {
      global: true,
      globalDecompression: false,
      encodings: [...replyEncodings],
      threshold: compressionThreshold,
      customTypes: compressedTypes,
      zlibOptions: { level: gzipLevel },
    });
  },
  { name: 'compression', dependencies: ['problem'] },
);
