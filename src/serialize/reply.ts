/**
 * A reply as a list of named fields (tensors with their dims, or plain numbers), written either as the JSON
 * object of the v1 contract or as an Open Inference Protocol binary body: a JSON header listing each tensor as
 * an output ({ name, shape, datatype: FP64, parameters.binary_data_size }) and holding the plain numbers as
 * fields, then the raw little-endian float64 bytes of the tensors in order.
 * Pure and I/O-free: the event loop and the worker pool (src/workers) write replies with the same code.
 */
import { encodeFloats } from '../codec/binary-tensor.js';
import { nestedArray } from './json-writer.js';

/** The media type of binary tensor bodies on /v1 (requests and replies). */
export const tensorMediaType = 'application/vnd.gradient-service.tensor+octet-stream';

/** A JSON value other than a tensor (the gradient checker's verdict and per-tensor reports). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

export type ReplyField =
  | { readonly name: string; readonly data: Float64Array; readonly dims: readonly number[] }
  | { readonly name: string; readonly value: number }
  | { readonly name: string; readonly json: JsonValue };

export type ReplyFormat = 'json' | 'binary';

/** A written reply: JSON (text, or its UTF-8 bytes from a worker), or a binary body and its header length. */
export type EncodedReply =
  | { readonly format: 'json'; readonly body: string | Uint8Array }
  | { readonly format: 'binary'; readonly body: Uint8Array; readonly headerLength: number };

/**
 * Puts value at a dotted field name: `layers.1.z` is object.layers[1].z (a part of digits indexes an array),
 * so an operation with per-layer results names them as its binary outputs are named and the JSON nests them.
 */
function place(object: Record<string, unknown>, name: string, value: unknown): void {
  if (!name.includes('.')) {
    object[name] = value;
    return;
  }
  const parts = name.split('.');
  let at = object;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = at[parts[i]] ?? (/^\d+$/.test(parts[i + 1]) ? [] : {});
    at[parts[i]] = next;
    at = next as Record<string, unknown>;
  }
  at[parts[parts.length - 1]] = value;
}

/** The v1 JSON object, fields in order (dotted names nested): one JSON.stringify over packed double arrays. */
export function replyJson(fields: readonly ReplyField[]): string {
  const object: Record<string, unknown> = {};
  for (const field of fields)
    place(
      object,
      field.name,
      'data' in field ? nestedArray(field.data, field.dims) : 'value' in field ? field.value : field.json,
    );
  return JSON.stringify(object);
}

/**
 * The binary form: tensors become outputs (FP64, row-major), numbers stay in the JSON header. The header is
 * padded with spaces (JSON allows them) to a multiple of 8 bytes, so that a client can view the float64 data
 * in place instead of copying it to an aligned buffer.
 */
export function replyBinary(fields: readonly ReplyField[]): { body: Buffer; headerLength: number } {
  const header: Record<string, unknown> = {};
  const outputs: unknown[] = [];
  const chunks: Uint8Array[] = [];
  for (const field of fields) {
    if (!('data' in field)) {
      header[field.name] = 'value' in field ? field.value : field.json;
      continue;
    }
    const bytes = encodeFloats(field.data, 'FP64');
    outputs.push({
      name: field.name,
      shape: [...field.dims],
      datatype: 'FP64',
      parameters: { binary_data_size: bytes.byteLength },
    });
    chunks.push(bytes);
  }
  header.outputs = outputs;
  const json = JSON.stringify(header);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const body = Buffer.allocUnsafe(headerLength + chunks.reduce((n, c) => n + c.byteLength, 0));
  // JSON.stringify of this header is ASCII: field names, numbers and the fixed output descriptors.
  body.write(json.padEnd(headerLength, ' '), 0, 'latin1');
  let offset = headerLength;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { body, headerLength };
}

export function encodeReply(fields: readonly ReplyField[], format: ReplyFormat): EncodedReply {
  if (format === 'json') return { format, body: replyJson(fields) };
  const { body, headerLength } = replyBinary(fields);
  return { format, body, headerLength };
}
