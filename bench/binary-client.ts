/**
 * A client for binary tensors on /v1, standalone (no import from the service): what the README shows.
 * Request: JSON header { ...other fields, inputs: [{ name, shape, datatype, parameters: { binary_data_size } }] }
 * then the raw little-endian float64 bytes; the header length goes in Inference-Header-Content-Length.
 */
export const tensorMediaType = 'application/vnd.gradient-service.tensor+octet-stream';

export interface TensorInput {
  readonly name: string;
  readonly data: Float64Array;
  /** [K] for one sample, [N, K] for a batch. */
  readonly shape: readonly number[];
}

export interface BinaryRequest {
  readonly body: Buffer;
  readonly headerLength: number;
}

export function encodeRequest(
  fields: Record<string, unknown>,
  tensors: readonly TensorInput[],
): BinaryRequest {
  const inputs = tensors.map((t) => ({
    name: t.name,
    shape: t.shape,
    datatype: 'FP64',
    parameters: { binary_data_size: t.data.byteLength },
  }));
  // Padded with spaces to a multiple of 8 bytes: the float64 data then starts aligned and the server uses it
  // in place instead of copying it.
  const json = JSON.stringify({ ...fields, inputs });
  const header = Buffer.from(json.padEnd(Math.ceil(json.length / 8) * 8, ' '));
  const body = Buffer.concat([
    header,
    ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
  ]);
  return { body, headerLength: header.length };
}

export interface BinaryReply {
  /** The header's plain fields (e.g. loss). */
  readonly fields: Record<string, unknown>;
  readonly tensors: Map<string, { shape: number[]; data: Float64Array }>;
}

/** Reads a binary reply; views the float64 data in place when aligned (the service pads its header to 8). */
export function decodeReply(body: Uint8Array, headerLength: number): BinaryReply {
  const header = JSON.parse(Buffer.from(body.buffer, body.byteOffset, headerLength).toString('utf8'));
  const { outputs, ...fields } = header as {
    outputs: { name: string; shape: number[]; parameters: { binary_data_size: number } }[];
  };
  const tensors = new Map<string, { shape: number[]; data: Float64Array }>();
  let offset = body.byteOffset + headerLength;
  for (const output of outputs) {
    const size = output.parameters.binary_data_size;
    const data =
      offset % 8 === 0
        ? new Float64Array(body.buffer, offset, size / 8)
        : new Float64Array(body.buffer.slice(offset, offset + size));
    tensors.set(output.name, { shape: output.shape, data });
    offset += size;
  }
  return { fields, tensors };
}
