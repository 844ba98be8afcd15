import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { App } from '../../src/app.js';
import { activationNames } from '../../src/core/activations/index.js';
import { buildTestApp } from '../support/app.js';

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; example?: unknown; schema: { enum?: string[] } }[];
  requestBody?: { content: Record<string, { example?: unknown; schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { enum?: string[] }> };
};

let app: App;
let doc: Doc;
beforeAll(async () => {
  app = await buildTestApp();
  doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => app.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with every route of the contract and without the helper routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/readyz',
        '/v1/activations',
        '/v1/activations/{name}',
        '/v1/activations/{name}/forward',
        '/v1/activations/{name}/derivative',
        '/v1/activations/{name}/second-derivative',
        '/v1/activations/{name}/jacobian',
        '/v1/activations/{name}/vjp',
        '/v1/activations/{name}/plot.svg',
        '/v1/softmax/jacobian',
        '/v1/softmax/vjp',
        '/v1/gradients/output-layer',
        '/v1/gradients/network',
        '/v1/gradients/network/hessian-vector',
        '/v1/gradients/check',
        '/v2',
        '/v2/health/live',
        '/v2/health/ready',
        '/v2/models/stats',
        '/v2/repository/index',
        '/v2/models/{name}/stats',
        '/v2/models/{name}',
        '/v2/models/{name}/ready',
        '/v2/models/{name}/infer',
        '/v2/models/{name}/versions/{version}/stats',
        '/v2/models/{name}/versions/{version}',
        '/v2/models/{name}/versions/{version}/ready',
        '/v2/models/{name}/versions/{version}/infer',
      ].sort(),
    );
  });

  it('names the shared schemas by $id, with the activation names enum from the table', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['Tensor', 'Matrix', 'Problem', 'ActivationInfo']),
    );
    expect(Object.keys(schemas).some((k) => k.startsWith('def-'))).toBe(false);
    expect(schemas.ActivationName.enum).toEqual(activationNames);
    const forward = doc.paths['/v1/activations/{name}/forward'].post;
    expect(forward.parameters?.[0].schema.enum).toEqual(activationNames);
  });

  it('documents the problem responses of every POST as application/problem+json', () => {
    // /v2 answers errors in the Open Inference Protocol's own { error } format (test/v2 checks those).
    const posts = operations().filter((o) => o.method === 'post' && !o.path.startsWith('/v2'));
    for (const { path, method, op } of posts) {
      const expected = path.includes('{name}')
        ? ['400', '404', '413', '415', '422']
        : ['400', '413', '415', '422'];
      for (const status of expected) {
        const response = op.responses[status];
        expect(response, `${method} ${path} ${status}`).toBeDefined();
        expect(response.content?.['application/problem+json']?.schema).toEqual({
          $ref: '#/components/schemas/Problem',
        });
      }
    }
  });

  it('gives every schema property a description', () => {
    const missing: string[] = [];
    const walk = (node: unknown, where: string) => {
      if (Array.isArray(node)) {
        node.forEach((n, i) => {
          walk(n, `${where}/${i}`);
        });
        return;
      }
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (record.properties && typeof record.properties === 'object') {
        // A `false` property is one the object must not have (the other of z and a): nothing to describe.
        for (const [name, prop] of Object.entries(
          record.properties as Record<string, { description?: string } | false>,
        ))
          if (prop !== false && !prop.description) missing.push(`${where}/properties/${name}`);
      }
      for (const [key, value] of Object.entries(record))
        if (key !== 'example') walk(value, `${where}/${key}`);
    };
    walk(doc, '');
    expect(missing).toEqual([]);
  });

  it("every operation's example runs as-is and succeeds (Swagger UI's Try it out)", async () => {
    for (const { path, method, op } of operations()) {
      let url = path;
      for (const p of op.parameters ?? []) {
        expect(p.example, `${method} ${path} ${p.name} example`).toBeDefined();
        url = url.replace(`{${p.name}}`, String(p.example));
      }
      const example = op.requestBody?.content['application/json'].example;
      if (method === 'post') expect(example, `${method} ${path} body example`).toBeDefined();
      const res = await app.inject({
        method: method.toUpperCase() as 'GET' | 'POST',
        url,
        ...(example !== undefined ? { payload: example as Record<string, unknown> } : {}),
      });
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(200);
    }
  });

  it('is served as YAML too, the same document', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.yaml' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/yaml/);
    expect(parse(res.body)).toEqual(doc);
  });

  it('openapi.yaml at the repository root is the generated document (npm run openapi)', () => {
    const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
    expect(committed, 'openapi.yaml is stale: run `npm run openapi`').toBe(app.swagger({ yaml: true }));
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/html/);
  });
});
