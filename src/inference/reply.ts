/**
 * An Open Inference Protocol response written from an operation's result fields: the requested outputs in
 * order, each as JSON data or binary data (after the JSON header), FP64 or FP32. Pure, shared by the /v2 routes
 * and the worker pool, which writes the reply of a large request off the event loop.
 */
import { assembleBody, encodeFloats, type FloatDatatype } from '../codec/binary-tensor.js';
import { NonFiniteResultError, ServiceError } from '../errors.js';
import type { EncodedReply, ReplyField } from '../serialize/reply.js';

/** One output as the request asks for it. */
export interface OutputChoice {
  readonly name: string;
  readonly binary: boolean;
  readonly datatype: FloatDatatype;
}

/** What a reply is written from besides the results: plain data, so that it crosses to a pool thread. */
export interface InferenceReplySpec {
  readonly kind: 'inference-reply';
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id?: string;
  /** The outputs asked for, in order; undefined: every result, with `binary` and `datatype`. */
  readonly choices?: readonly OutputChoice[];
  readonly binary: boolean;
  readonly datatype: FloatDatatype;
}

/** The response, JSON or (when an output is binary) the JSON header and the binary data. */
export function writeInferenceReply(fields: readonly ReplyField[], spec: InferenceReplySpec): EncodedReply {
  const results = new Map(
    fields.map((f) => {
      if ('data' in f) return [f.name, { data: f.data, shape: f.dims }];
      // JSON results belong to /v1-only operations, which are not models.
      if (!('value' in f)) throw new RangeError(`/v2: result ${f.name} is not a tensor`);
      return [f.name, { data: new Float64Array([f.value]), shape: [1] as readonly number[] }];
    }),
  );
  const selected =
    spec.choices ??
    [...results.keys()].map((name) => ({ name, binary: spec.binary, datatype: spec.datatype }));

  const outputs: Record<string, unknown>[] = [];
  const binary: Uint8Array[] = [];
  for (const choice of selected) {
    const result = results.get(choice.name);
    if (!result)
      throw new ServiceError(
        400,
        'invalid-request',
        `output ${JSON.stringify(choice.name)} is not produced for these inputs (produced: ${[...results.keys()].join(', ')})`,
      );
    let data: Float64Array | Float32Array = result.data;
    if (choice.datatype === 'FP32') {
      data = Float32Array.from(result.data);
      for (let i = 0; i < data.length; i++)
        if (!Number.isFinite(data[i]))
          throw new NonFiniteResultError(
            choice.name,
            `output ${choice.name}[${i}] = ${result.data[i]} overflows FP32; ask for FP64 instead`,
          );
    }
    const meta = { name: choice.name, shape: result.shape, datatype: choice.datatype };
    if (choice.binary) {
      const bytes = encodeFloats(result.data, choice.datatype);
      binary.push(bytes);
      outputs.push({ ...meta, parameters: { binary_data_size: bytes.byteLength } });
    } else outputs.push({ ...meta, data: Array.from(data) });
  }

  const response = {
    model_name: spec.modelName,
    model_version: spec.modelVersion,
    ...(spec.id !== undefined ? { id: spec.id } : {}),
    outputs,
  };
  if (binary.length === 0) return { format: 'json', body: JSON.stringify(response) };
  const { body, headerLength } = assembleBody(response, binary);
  return { format: 'binary', body, headerLength };
}
