/**
 * The OpenAPI 3.1 document, generated from the route schemas by @fastify/swagger, served at
 * /openapi.json and /openapi.yaml, with Swagger UI at /docs. Registered (awaited) before the routes,
 * so that it sees every route as it is added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { headerLengthHeader } from '../codec/binary-tensor.js';
import { jsonLimits } from '../codec/bounded-json.js';
import { replyExamples } from '../schemas/examples.js';
import { tensorMediaType } from '../serialize/reply.js';
import { isComputeRoute } from './auth.js';
import { requestIdHeader } from './request-id.js';

const description = `Activation functions, their derivatives, softmax Jacobians and vector-Jacobian products, and
the gradients of a dense output layer, all in float64.

**Tensors** are JSON arrays: \`[K]\` for one sample, \`[N][K]\` for a batch. A response tensor has the shape of
the request tensor it derives from. At most MAX_ELEMENTS numbers (default 1,000,000) in any request or response
tensor, and at most BODY_LIMIT bytes (default 32 MiB) of body: 413 beyond. JSON has no NaN or Infinity: a
result that is not finite is a 422 naming the quantity, never a \`null\`.

**Errors** are RFC 9457 \`application/problem+json\` with \`type, title, status, detail, instance, requestId\`,
and \`errors: [{ path, message }]\` (JSON pointers into the body) for validation failures. Unknown fields, unknown
params and out-of-range params are a 400; an unknown activation name is a 404 listing the known names.
Malformed JSON is a 400 \`malformed-json\` saying where (line, column, byte) and what was expected.

**Parsing limits** (every JSON body and binary JSON header, /v1 and /v2; checked while parsing, before anything
is built; a 400 \`structure-limit\` naming the limit, \`{ error }\` on /v2): nesting depth
${jsonLimits.maxDepth}, ${jsonLimits.maxContainers.toLocaleString('en')} arrays and objects in the body (a JSON batch \`[N][K]\` has N + 1), ${jsonLimits.maxKeysPerObject} keys in one object and ${jsonLimits.maxKeys.toLocaleString('en')} in the body, ${jsonLimits.maxStringBytes} bytes in
one string (a key or a value, as written), ${jsonLimits.maxRank} dimensions in a tensor shape. Keys named \`__proto__\` or
\`constructor\` are refused (400); of duplicate keys the last one counts, as in JSON.parse.

**Request ids**: send \`x-request-id\` (1-128 characters of \`A-Z a-z 0-9 . _ : @ / + = -\`) to have it used;
otherwise one is generated. It is echoed in the \`x-request-id\` response header, in every log line and in
problem bodies.`;

export const openapiInfo = {
  title: 'gradient-service',
  version: '1.0.0',
  description,
  license: { name: 'MIT', identifier: 'MIT' },
};

/**
 * Where the service is: relative to the document when it is served (Swagger UI calls the instance it came
 * from), or the in-cluster Service of deploy/k8s (port 80); host and port are variables for any other place.
 */
const servers = [
  { url: '/', description: 'The instance serving this document (GET /openapi.json, Swagger UI at /docs).' },
  {
    url: 'http://{host}:{port}',
    description:
      'Another instance: the Kubernetes Service of deploy/k8s by default; npm run dev and the container ' +
      'image listen on 8080 (PORT).',
    variables: {
      host: { default: 'gradient-service', description: 'Host name or address.' },
      port: { default: '80', description: 'Port: 80 on the Service, PORT (default 8080) on an instance.' },
    },
  },
];

const bearerScheme = {
  type: 'http',
  scheme: 'bearer',
  description:
    'One of the API_KEYS configured on the server, as `Authorization: Bearer <key>`. Required on every /v1 and ' +
    '/v2 route (except the /v2/health probes) when the server runs with API_KEYS set; without API_KEYS the ' +
    'service is open and the header is ignored. Probes, /metrics (unless METRICS_AUTH=true) and the docs never ' +
    'need it.',
};

interface MediaType {
  schema?: { description?: string; [key: string]: unknown };
  example?: unknown;
  [key: string]: unknown;
}
interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType>; headers?: Record<string, unknown> }>;
}
interface Document {
  components?: { securitySchemes?: Record<string, unknown> } & Record<string, unknown>;
  paths?: Record<string, Record<string, Operation>>;
}

const requestIdHeaderDoc = {
  description:
    'The request id: the x-request-id the request carried when it looks like an id, else a generated one. ' +
    'Every log line of the request and every problem body (requestId) carry it.',
  schema: { type: 'string' },
};

const headerLengthDoc = {
  description:
    'With a binary body only: the length in bytes of its JSON header; the tensor bytes follow it. Absent on a ' +
    'JSON reply.',
  schema: { type: 'integer', minimum: 1 },
};

/** Media types whose bodies are bytes: a JSON header, then raw tensor data. */
const binaryMediaTypes = new Set([tensorMediaType, 'application/octet-stream']);

/**
 * A binary body as bytes: Fastify validates the JSON header of a binary request against the route's schema
 * for its media type, so the route keeps the header schema there; the document shows the body as a string
 * of bytes (what generators must send) with the layout in its description, and the header's schema under
 * x-json-header.
 */
function asBytes(media: MediaType): MediaType {
  // An example of the header alone would not be a valid body of bytes.
  const { schema, example: _headerExample, ...rest } = media;
  if (schema?.type === 'string') return media;
  return {
    ...rest,
    schema: {
      type: 'string',
      format: 'binary',
      description:
        `Bytes. ${schema?.description ?? ''} The JSON header's fields are in x-json-header.`.trim(),
    },
    'x-json-header': schema,
  };
}

/**
 * The bodies that take exactly one of z and a (the operations' z-or-a choice), as the document shows them: a
 * oneOf of the z form and the a form, so that generated client types refuse `{}` and `{ z, a }`. The route
 * keeps its flat schema with both optional, whose Ajv messages name the field (a oneOf's would say "must match
 * exactly one schema"), and the operation refuses neither-or-both with its own words.
 */
const exactlyOne = ['z', 'a'] as const;

function withExactlyOne(schema: MediaType['schema']): MediaType['schema'] {
  const properties = schema?.properties as Record<string, unknown> | undefined;
  const required = (schema?.required as string[] | undefined) ?? [];
  if (!schema || !properties || !exactlyOne.every((k) => k in properties && !required.includes(k)))
    return schema;
  const { properties: _all, required: _required, additionalProperties, type: _type, ...annotations } = schema;
  // The other one of the pair is `false` (never), not merely absent: a union would take { z, a } otherwise.
  const form = (kept: string) => ({
    type: 'object',
    description: `The ${kept} form: ${kept} and not ${exactlyOne.find((k) => k !== kept)}.`,
    properties: Object.fromEntries(
      Object.entries(properties).map(([k, v]) =>
        k === kept || !(exactlyOne as readonly string[]).includes(k) ? [k, v] : [k, false],
      ),
    ),
    required: [kept, ...required],
    ...(additionalProperties === undefined ? {} : { additionalProperties }),
  });
  return { ...annotations, oneOf: exactlyOne.map(form) };
}

/**
 * What the generated document needs beyond the route schemas: the bearer scheme (always; required when
 * API_KEYS is set, optional otherwise, never on open routes), binary bodies as bytes, and the 200 examples.
 */
export function finishDocument<T extends object>(document: T, options: { apiKeysRequired: boolean }): T {
  const doc = document as Document;
  doc.components = {
    ...doc.components,
    securitySchemes: { ...doc.components?.securitySchemes, bearerAuth: bearerScheme },
  };
  // `{}` in a security list means "no credentials": the key is optional while the server has no API_KEYS.
  const computeSecurity: Record<string, string[]>[] = options.apiKeysRequired
    ? [{ bearerAuth: [] }]
    : [{ bearerAuth: [] }, {}];
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      operation.security = isComputeRoute(path) ? computeSecurity : [];
      const json = operation.requestBody?.content?.['application/json'];
      if (json) json.schema = withExactlyOne(json.schema);
      const bodies = [
        operation.requestBody?.content,
        ...Object.values(operation.responses ?? {}).map((r) => r.content),
      ];
      for (const content of bodies)
        for (const type of Object.keys(content ?? {}))
          if (content && binaryMediaTypes.has(type)) content[type] = asBytes(content[type]);
      // The headers a caller reads: every answer's request id, and where a binary body's JSON header ends.
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        // Copies: a shared object would be a YAML alias, hundreds of them in openapi.yaml.
        response.headers = { ...response.headers, [requestIdHeader]: structuredClone(requestIdHeaderDoc) };
        if (status === '200' && Object.keys(response.content ?? {}).some((t) => binaryMediaTypes.has(t)))
          response.headers[headerLengthHeader] = structuredClone(headerLengthDoc);
      }
      const example = operation.operationId ? replyExamples[operation.operationId] : undefined;
      const ok = operation.responses?.['200']?.content?.['application/json'];
      if (example !== undefined && ok) ok.example = structuredClone(example);
    }
  }
  return document;
}

export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: openapiInfo,
        servers,
        tags: [
          { name: 'activations', description: 'The activation catalog, forward pass and derivatives.' },
          { name: 'softmax', description: 'Softmax Jacobian and vector-Jacobian product.' },
          { name: 'gradients', description: 'Output-layer gradients.' },
          { name: 'operations', description: 'Liveness and readiness probes.' },
        ],
      },
      transformObject: (document) =>
        finishDocument('openapiObject' in document ? document.openapiObject : document.swaggerObject, {
          apiKeysRequired: app.config.apiKeys.length > 0,
        }),
      // Shared schemas appear under their $id (Tensor, Problem, ...) instead of def-0, def-1, ...
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });

    // What a person who types the host name finds: where the documentation and the two surfaces are.
    app.get('/', { schema: { hide: true } }, async () => ({
      name: openapiInfo.title,
      version: openapiInfo.version,
      description: 'HTTP microservice for neural-network gradient math.',
      links: {
        docs: '/docs',
        openapi: '/openapi.json',
        openapiYaml: '/openapi.yaml',
        v1: '/v1/activations',
        v2: '/v2',
        health: '/healthz',
      },
    }));

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) =>
      reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true })),
    );
  },
  { name: 'docs' },
);
