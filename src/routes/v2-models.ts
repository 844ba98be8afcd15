/**
 * The models of the Open Inference Protocol routes: a rendering of the operation table (src/operations), as
 * the /v1 routes are. Each operation that takes an activation gives one model per activation it applies to
 * (`<activation>` for forward, `<activation>.<operation>` otherwise: sigmoid.derivative, tanh.second_derivative,
 * softmax.jacobian, log_softmax.vjp, ...); an operation that takes none is one model (output_layer). No activation is named here.
 */
import { floatDatatypes } from '../codec/binary-tensor.js';
import { type Activation, activations } from '../core/activations/index.js';
import { UnknownNameError } from '../errors.js';
import { type Operation, type OperationName, operations } from '../operations/index.js';

/**
 * A tensor of a model's metadata: -1 marks a dimension of any size. `datatype` is the one the math runs in;
 * `parameters.datatypes` lists every datatype the tensor is read or written in (the protocol's metadata has
 * one datatype per tensor, and this server takes FP32 as well: FP32 inputs give FP32 outputs).
 */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: 'FP64';
  readonly shape: readonly number[];
  readonly parameters: { readonly datatypes: string };
}

export interface Model {
  readonly name: string;
  readonly operation: Operation<OperationName>;
  readonly activation?: Activation;
  readonly description: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** Names of the inputs that may be absent (the z-or-a choice, the bias). */
  readonly optionalInputs: readonly string[];
  /** What request `parameters` the model reads, for the metadata. */
  readonly parameterText: string;
}

const metadata = ({ name, shape }: { name: string; shape: readonly number[] }): TensorMetadata => ({
  name,
  datatype: 'FP64',
  shape,
  parameters: { datatypes: floatDatatypes.join(',') },
});

function model(operation: Operation<OperationName>, activation?: Activation): Model {
  const inputs = operation.inputs(activation);
  // Model names in snake_case: output_layer, sigmoid.second_derivative.
  const operationName = operation.name.replaceAll('-', '_');
  return {
    name: !activation
      ? operationName
      : operation.name === 'forward'
        ? activation.name
        : `${activation.name}.${operationName}`,
    operation,
    activation,
    description: operation.describe(activation),
    inputs: inputs.map(metadata),
    outputs: operation.outputs.map(metadata),
    optionalInputs: inputs.filter((i) => i.optional).map((i) => i.name),
    parameterText: operation.parameterText(activation),
  };
}

const applies = (operation: Operation, entry: Activation) =>
  operation.scope === 'any' || operation.scope === entry.kind;

export const models: readonly Model[] = operations.flatMap((operation) =>
  operation.v1Only
    ? []
    : operation.scope === 'none'
      ? [model(operation)]
      : activations.filter((entry) => applies(operation, entry)).map((entry) => model(operation, entry)),
);

const byName = new Map(models.map((m) => [m.name, m]));

export const modelNames: readonly string[] = models.map((m) => m.name);

/** Whether a name is a model's (a map lookup: the infer route asks it for every answer it counts). */
export const isModel = (name: string): boolean => byName.has(name);

/** The one version every model has. */
export const modelVersion = '1';

/**
 * The model of a path's name and optional version; a 404 otherwise, short however many models there are: it
 * points at the index that lists them.
 */
export function modelFor(name: string, version: string | undefined): Model {
  const found = byName.get(name);
  if (!found)
    throw new UnknownNameError(
      'unknown-model',
      `unknown model ${JSON.stringify(name)}; POST /v2/repository/index lists the models`,
    );
  if (version !== undefined && version !== modelVersion)
    throw new UnknownNameError(
      'unknown-model',
      `model ${JSON.stringify(name)} has no version ${JSON.stringify(version)}; versions: ${modelVersion}`,
    );
  return found;
}
