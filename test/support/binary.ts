/** Binary tensor bodies for route tests: encode a request (JSON header + bytes), decode a reply. */
import { expect } from 'vitest';
import type { App } from '../../src/app.js';
import { tensorMediaType } from '../../src/serialize/reply.js';

export interface Input {
  name: string;
  data: Float64Array | Float32Array;
  shape: number[];
}

/** A binary request: JSON header (the other fields + inputs), then each tensor's bytes. */
export function encode(fields: Record<string, unknown>, inputs: Input[], headerPad = 0) {
  const header = {
    ...fields,
    inputs: inputs.map((t) => ({
      name: t.name,
      shape: t.shape,
      datatype: t.data instanceof Float32Array ? 'FP32' : 'FP64',
      parameters: { binary_data_size: t.data.byteLength },
    })),
  };
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(headerPad));
  const body = Buffer.concat([
    json,
    ...inputs.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
  return { body, headerLength: json.length };
}

/** A binary reply -> its header and each output as a Float64Array. */
export function decode(body: Buffer, headerLength: number) {
  const header = JSON.parse(body.subarray(0, headerLength).toString()) as {
    outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[];
    [key: string]: unknown;
  };
  const outputs: Record<string, { shape: number[]; data: number[] }> = {};
  let offset = headerLength;
  for (const o of header.outputs) {
    const bytes = body.subarray(offset, offset + o.parameters.binary_data_size);
    const copy = new Uint8Array(bytes);
    outputs[o.name] = { shape: o.shape, data: Array.from(new Float64Array(copy.buffer)) };
    offset += bytes.length;
  }
  expect(offset).toBe(body.length);
  return { header, outputs };
}

/** Posts an encoded binary request (with Accept when given) through app.inject. */
export function sendBinary(
  app: App,
  url: string,
  request: { body: Buffer; headerLength: number },
  accept?: string,
) {
  return app.inject({
    method: 'POST',
    url,
    headers: {
      'content-type': tensorMediaType,
      'inference-header-content-length': String(request.headerLength),
      ...(accept ? { accept } : {}),
    },
    payload: request.body,
  });
}
