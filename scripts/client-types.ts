/**
 * The client package's request and reply types (packages/client/src/schema-types.ts), generated from the
 * service's TypeBox schemas: `npm run client:types` writes the file; test/client/types-sync.test.ts fails when
 * it is not what this prints, and checks at compile time that each generated type is the schema's Static type.
 *
 * A JSON schema becomes TypeScript by a few rules: a reference to the shared `Tensor` schema is the type
 * parameter T (so one sample in gives one sample out, a batch a batch), and a type using T, directly or
 * through another named type, is generic; an anyOf of a K x K matrix and a batch of them is MatrixPerRow<T>;
 * a schema listed below by name is referred to by that name; descriptions become doc comments.
 */

import type { TSchema } from 'typebox';
import { curvatures, losses, reductions } from '../src/core/losses.js';
import {
  ActivationInfo,
  DerivativeBody,
  DerivativeReply,
  ForwardBody,
  ForwardReply,
  ParamInfo,
  ParamsField,
  SecondDerivativeBody,
  SecondDerivativeReply,
  VectorJacobianBody,
  VectorVjpBody,
} from '../src/schemas/activations.js';
import { Problem } from '../src/schemas/common.js';
import {
  CheckBody,
  CheckReply,
  DirectionLayer,
  GivenGradients,
  HessianVectorBody,
  HessianVectorReply,
  LayerGradients,
  LayerProducts,
  LayerSpec,
  NetworkBody,
  NetworkReply,
  TensorCheck,
} from '../src/schemas/network.js';
import { OutputLayerBody, OutputLayerReply } from '../src/schemas/output-layer.js';
import { JacobianBody, JacobianReply, VjpBody, VjpReply } from '../src/schemas/softmax.js';

/** A schema as JSON: TypeBox's schemas are plain JSON Schema objects at run time. */
type Schema = Readonly<Record<string, unknown>>;

/** Each generated type: its name and its schema. */
const clientTypes: readonly (readonly [string, TSchema])[] = [
  ['ForwardRequest', ForwardBody],
  ['ForwardResponse', ForwardReply],
  ['DerivativeRequest', DerivativeBody],
  ['DerivativeResponse', DerivativeReply],
  ['SecondDerivativeRequest', SecondDerivativeBody],
  ['SecondDerivativeResponse', SecondDerivativeReply],
  ['JacobianRequest', JacobianBody],
  ['JacobianResponse', JacobianReply],
  ['VjpRequest', VjpBody],
  ['VjpResponse', VjpReply],
  ['ActivationJacobianRequest', VectorJacobianBody],
  ['ActivationVjpRequest', VectorVjpBody],
  ['OutputLayerRequest', OutputLayerBody],
  ['OutputLayerResponse', OutputLayerReply],
  ['NetworkLayer', LayerSpec],
  ['NetworkRequest', NetworkBody],
  ['LayerGradients', LayerGradients],
  ['NetworkResponse', NetworkReply],
  ['DirectionLayer', DirectionLayer],
  ['HessianVectorRequest', HessianVectorBody],
  ['LayerProducts', LayerProducts],
  ['HessianVectorResponse', HessianVectorReply],
  ['GivenGradients', GivenGradients],
  ['CheckRequest', CheckBody],
  ['TensorCheck', TensorCheck],
  ['CheckResponse', CheckReply],
  ['ParamInfo', ParamInfo],
  ['ActivationInfo', ActivationInfo],
  ['ProblemDetails', Problem],
];

/** The shared schemas ($id) and what they are in the client. */
const references: Record<string, string> = {
  Tensor: 'T',
  Matrix: 'number[][]',
  ActivationName: 'ActivationName',
  ActivationInfo: 'ActivationInfo',
  Problem: 'ProblemDetails',
};

/** Schemas the client names without generating them: names.ts's unions and tensor.ts's params. */
const aliases = new Map<unknown, string>([[ParamsField, 'ActivationParams']]);
const enumNames = new Map<string, string>([
  [losses.join(), 'Loss'],
  [reductions.join(), 'Reduction'],
  [curvatures.join(), 'Curvature'],
]);

const nameOf = new Map<unknown, string>(clientTypes.map(([name, schema]) => [schema, name]));

function children(schema: Schema): Schema[] {
  const out: Schema[] = [];
  for (const key of ['items', 'additionalProperties']) {
    const child = schema[key];
    if (child && typeof child === 'object') out.push(child as Schema);
  }
  for (const key of ['anyOf', 'oneOf', 'allOf']) out.push(...((schema[key] as Schema[] | undefined) ?? []));
  out.push(...Object.values((schema.properties as Record<string, Schema> | undefined) ?? {}));
  return out;
}

/** Whether a schema refers to Tensor, itself or through any schema inside it. */
function usesTensor(schema: Schema, seen = new Set<Schema>()): boolean {
  if (seen.has(schema)) return false;
  seen.add(schema);
  if (schema.$ref === 'Tensor') return true;
  return children(schema).some((child) => usesTensor(child, seen));
}

const isNumberArray = (s: Schema, depth: number): boolean =>
  depth === 0 ? s.type === 'number' : s.type === 'array' && isNumberArray(s.items as Schema, depth - 1);

/** The first sentence of a description, on one line: a doc comment, not the OpenAPI text. */
function doc(schema: Schema, indent: string): string {
  const text = typeof schema.description === 'string' ? schema.description : '';
  if (!text) return '';
  const sentence = (text.match(/^[\s\S]*?[.!?](?=\s+[A-Z(`]|$)/)?.[0] ?? text).replace(/\s+/g, ' ');
  return `${indent}/** ${sentence.replaceAll('*/', '* /')} */\n`;
}

function typeOf(schema: Schema | boolean, indent: string, root?: Schema): string {
  if (schema === false) return 'never';
  if (schema === true) return 'unknown';
  const alias = aliases.get(schema);
  if (alias) return alias;
  const named = nameOf.get(schema);
  if (named && schema !== root) return usesTensor(schema) ? `${named}<T>` : named;
  if (typeof schema.$ref === 'string') {
    const ref = references[schema.$ref];
    if (!ref) throw new Error(`client-types: no client type for the shared schema ${schema.$ref}`);
    return ref;
  }
  const allOf = schema.allOf as Schema[] | undefined;
  if (allOf?.length === 1) return typeOf(allOf[0], indent);
  const union = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (union) {
    const literals = union.map((member) => member.const);
    const enumName = enumNames.get(literals.join());
    if (enumName && literals.every((v) => typeof v === 'string')) return enumName;
    const [matrix, batch] = union;
    if (union.length === 2 && isNumberArray(matrix, 2) && isNumberArray(batch, 3)) return 'MatrixPerRow<T>';
    return union.map((member) => typeOf(member, indent)).join(' | ');
  }
  if ('const' in schema) return JSON.stringify(schema.const).replaceAll('"', "'");
  if (Array.isArray(schema.enum) && enumNames.has(schema.enum.join()))
    return enumNames.get(schema.enum.join()) as string;
  if (Array.isArray(schema.enum))
    return schema.enum.map((v) => JSON.stringify(v).replaceAll('"', "'")).join(' | ');
  switch (schema.type) {
    case 'number':
    case 'integer':
      return 'number';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      const item = typeOf(schema.items as Schema, indent);
      return /[ |<]/.test(item) && !item.endsWith('>') ? `(${item})[]` : `${item}[]`;
    }
    case 'object':
      return objectType(schema, indent);
  }
  throw new Error(`client-types: no rule for the schema ${JSON.stringify(schema).slice(0, 200)}`);
}

function objectType(schema: Schema, indent: string): string {
  const properties = schema.properties as Record<string, Schema> | undefined;
  const extra = schema.additionalProperties;
  if (!properties)
    return extra && typeof extra === 'object' ? `Record<string, ${typeOf(extra as Schema, indent)}>` : '{}';
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const inner = `${indent}  `;
  const fields = Object.entries(properties).map(
    ([key, property]) =>
      `${doc(property, inner)}${inner}${key}${required.has(key) ? '' : '?'}: ${typeOf(property, inner)};\n`,
  );
  return `{\n${fields.join('')}${indent}}`;
}

export function clientTypesSource(): string {
  const declarations = clientTypes.map(([name, typebox]) => {
    const schema = typebox as unknown as Schema;
    const generic = usesTensor(schema) ? '<T extends Tensor = Tensor>' : '';
    const body = typeOf(schema, '', schema);
    const head = doc(schema, '');
    return body.startsWith('{\n')
      ? `${head}export interface ${name}${generic} ${body}\n`
      : `${head}export type ${name}${generic} = ${body};\n`;
  });
  return `// Generated by \`npm run client:types\` (scripts/client-types.ts) from the service's TypeBox schemas. Do not
// edit: a test in the service repository fails when this file is not what the script writes.
import type { ActivationName, Curvature, Loss, Reduction } from './names.js';
import type { ActivationParams, MatrixPerRow, Tensor } from './tensor.js';

${declarations.join('\n')}`;
}
