/**
 * What the lint-clean document promises (redocly's recommended rules run in CI on openapi.yaml; these are
 * the project's own rules on top): every computing route documents the errors it can answer, in its
 * surface's body; security on every operation; binary bodies as bytes; 200 examples that are real replies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { replyExamples } from '../../src/schemas/examples.js';
import { computeErrorResponses, readErrorResponses } from '../../src/schemas/responses.js';
import { tensorMediaType } from '../../src/serialize/reply.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';

interface Media {
  schema: Record<string, unknown>;
  example?: unknown;
}
interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, Media>;
}
interface Operation {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; example?: unknown }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, Response>;
}
interface Doc {
  info: { license?: { name: string; identifier?: string } };
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
}

let app: App;
let doc: Doc;
beforeAll(async () => {
  // No load shedding: a busy test machine must not turn these into 503s.
  app = await buildTestApp({ maxEventLoopDelayMs: 0 });
  doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => app.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
const isCompute = (path: string) => /^\/v[12](\/|$)/.test(path) && !path.startsWith('/v2/health/');
const errorSchema = (path: string) =>
  path.startsWith('/v2')
    ? { $ref: '#/components/schemas/InferenceErrorBody' }
    : { $ref: '#/components/schemas/Problem' };
const errorMedia = (path: string) =>
  path.startsWith('/v2') ? 'application/json' : 'application/problem+json';

describe('the documented errors', () => {
  it('every /v1 and /v2 POST documents 400, 401, 408, 413, 414, 415, 422, 429, 431 and 503 with their bodies', () => {
    const posts = operations().filter((o) => o.method === 'post' && isCompute(o.path));
    expect(posts.length).toBeGreaterThanOrEqual(7);
    for (const { path, op } of posts) {
      for (const status of ['400', '401', '408', '413', '414', '415', '422', '429', '431', '503']) {
        const response = op.responses[status];
        expect(response, `POST ${path} ${status}`).toBeDefined();
        expect(response.content?.[errorMedia(path)]?.schema, `POST ${path} ${status}`).toEqual(
          errorSchema(path),
        );
      }
      for (const status of ['429', '503'])
        expect(Object.keys(op.responses[status].headers ?? {}), `POST ${path} ${status}`).toContain(
          'retry-after',
        );
      expect(Object.keys(op.responses['401'].headers ?? {})).toContain('www-authenticate');
    }
  });

  it('every GET under /v1 and /v2 documents 401, 429 and 503; every operation at least one 4xx', () => {
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => s.startsWith('4')),
        `${method} ${path}`,
      ).toBe(true);
      if (method === 'get' && isCompute(path))
        expect(statuses, `GET ${path}`).toEqual(expect.arrayContaining(['401', '429', '503']));
    }
  });

  it('the helper gives /v1 problem+json and /v2 the protocol error body, with 404 only for named routes', () => {
    expect(Object.keys(computeErrorResponses('v1'))).not.toContain('404');
    expect(Object.keys(computeErrorResponses('v2', { notFound: 'Unknown model.' }))).toContain('404');
    expect(computeErrorResponses('v2')['400'].content).toHaveProperty('application/json');
    expect(readErrorResponses('v1')['401'].content).toHaveProperty('application/problem+json');
    expect(Object.keys(computeErrorResponses('v1', { alwaysFinite: true }))).not.toContain('422');
  });

  it('the 401 and 429 bodies are the documented ones on both surfaces', async () => {
    const key = 'k'.repeat(32);
    // Two refused logins from one address fit a limit of 2 (failed logins count against it too).
    const keyed = await buildTestApp({ apiKeys: [key], rateLimit: 2, maxEventLoopDelayMs: 0 });
    try {
      expectProblem(await post(keyed, '/v1/softmax/vjp', { z: [1], v: [1] }), 401, 'unauthorized');
      const v2 = await post(keyed, '/v2/models/sigmoid/infer', {});
      expect(v2.statusCode).toBe(401);
      expect(v2.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(v2.json())).toEqual(['error']);
      const auth = { authorization: `Bearer ${key}` };
      const body = { inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }] };
      for (let i = 0; i < 2; i++)
        expect((await post(keyed, '/v2/models/sigmoid/infer', body, auth)).statusCode).toBe(200);
      const limited = await post(keyed, '/v2/models/sigmoid/infer', body, auth);
      expect(limited.statusCode).toBe(429);
      expect(Object.keys(limited.json())).toEqual(['error']);
      expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await keyed.close();
    }
  });
});

describe('the rest of the document', () => {
  it('has servers and a license', () => {
    expect(doc.servers?.length).toBeGreaterThan(0);
    expect(doc.info.license).toEqual({ name: 'MIT', identifier: 'MIT' });
  });

  it('says on every operation whether a key applies: optional bearer on compute routes, none elsewhere', () => {
    for (const { path, method, op } of operations())
      expect(op.security, `${method} ${path}`).toEqual(isCompute(path) ? [{ bearerAuth: [] }, {}] : []);
  });

  it('describes binary bodies as bytes, with the layout in the description and the header schema beside', () => {
    let seen = 0;
    for (const { path, op } of operations()) {
      const media = [op.requestBody?.content, ...Object.values(op.responses).map((r) => r.content)].flatMap(
        (content) =>
          Object.entries(content ?? {}).filter(
            ([type]) => type === tensorMediaType || type === 'application/octet-stream',
          ),
      );
      for (const [type, m] of media) {
        seen++;
        expect(m.schema, `${path} ${type}`).toMatchObject({ type: 'string', format: 'binary' });
        expect(m.schema.description, `${path} ${type}`).toMatch(/Inference-Header-Content-Length/);
        expect(m.example, `${path} ${type}`).toBeUndefined();
      }
    }
    expect(seen).toBeGreaterThanOrEqual(10);
  });

  it("every POST's 200 example is the service's real reply to its request example", async () => {
    const posts = operations().filter((o) => o.method === 'post');
    for (const { path, op } of posts) {
      const example = op.responses['200'].content?.['application/json']?.example;
      expect(example, `POST ${path}: add its reply to src/schemas/examples.ts`).toBeDefined();
      // Or its route gives it, where the reply renders a table (the /v2 repository index lists the models).
      if (op.operationId in replyExamples) expect(example).toEqual(replyExamples[op.operationId]);
      let url = path;
      for (const p of op.parameters ?? []) url = url.replace(`{${p.name}}`, String(p.example));
      const res = await post(app, url, op.requestBody?.content['application/json'].example);
      expect(res.statusCode, res.body).toBe(200);
      expect(
        res.json(),
        `POST ${url}: the reply differs from its example in src/schemas/examples.ts`,
      ).toEqual(example);
    }
  });

  it('the probes and the server metadata carry their real replies as examples too', async () => {
    for (const [url, id] of [
      ['/healthz', 'healthz'],
      ['/readyz', 'readyz'],
      ['/v2', 'v2ServerMetadata'],
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.json()).toEqual(replyExamples[id]);
    }
  });
});

describe('what generated clients need', () => {
  it('has no empty enum anywhere (Ajv refuses to compile one, and it types a field never)', () => {
    const empty: string[] = [];
    const walk = (node: unknown, where: string) => {
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (Array.isArray(record.enum) && record.enum.length === 0) empty.push(where);
      for (const [key, value] of Object.entries(record)) walk(value, `${where}/${key}`);
    };
    walk(doc, '');
    expect(empty).toEqual([]);
  });

  it('declares x-request-id on every response, and Inference-Header-Content-Length on every binary 200', () => {
    let binary = 0;
    for (const { path, method, op } of operations())
      for (const [status, response] of Object.entries(op.responses)) {
        expect(Object.keys(response.headers ?? {}), `${method} ${path} ${status}`).toContain('x-request-id');
        const bytes = Object.keys(response.content ?? {}).some(
          (t) => t === tensorMediaType || t === 'application/octet-stream',
        );
        if (status === '200' && bytes) {
          binary++;
          expect(Object.keys(response.headers ?? {}), `${method} ${path}`).toContain(
            'inference-header-content-length',
          );
        }
      }
    expect(binary).toBeGreaterThanOrEqual(8);
  });

  it('gives every error response an example in its surface body', () => {
    for (const { path, method, op } of operations())
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
        const where = `${method} ${path} ${status}`;
        expect(media?.example, where).toBeDefined();
        if (type === 'application/problem+json')
          expect(media?.example, where).toMatchObject({
            type: expect.stringMatching(/^urn:gradient-service:problem:/),
            status: Number(status),
            detail: expect.any(String),
            requestId: expect.any(String),
          });
        else expect(Object.keys(media?.example as object), where).toEqual(['error']);
      }
  });
});

describe('exactly one of z and a', () => {
  it('is a oneOf of the z form and the a form in the document, the other one never', () => {
    const bodies = operations().filter(({ op }) => {
      const schema = op.requestBody?.content['application/json']?.schema as { oneOf?: unknown[] } | undefined;
      return schema?.oneOf !== undefined;
    });
    expect(bodies.map((b) => b.path).sort()).toEqual([
      '/v1/activations/{name}/derivative',
      '/v1/activations/{name}/jacobian',
      '/v1/activations/{name}/second-derivative',
      '/v1/activations/{name}/vjp',
      '/v1/softmax/jacobian',
      '/v1/softmax/vjp',
    ]);
    for (const { path, op } of bodies) {
      const { oneOf } = (op.requestBody as { content: Record<string, Media> }).content['application/json']
        .schema as {
        oneOf: { required: string[]; properties: Record<string, unknown> }[];
      };
      expect(
        oneOf.map((f) => f.required[0]),
        path,
      ).toEqual(['z', 'a']);
      expect(oneOf[0].properties.a, path).toBe(false);
      expect(oneOf[1].properties.z, path).toBe(false);
    }
  });

  it('is still refused by the service in words that name the fields', async () => {
    const neither = expectProblem(await post(app, '/v1/softmax/jacobian', {}), 400);
    expect(neither.detail).toMatch(/\bz\b.*\ba\b/);
    const both = expectProblem(await post(app, '/v1/softmax/jacobian', { z: [1, 2], a: [0.5, 0.5] }), 400);
    expect(both.detail).toMatch(/\bz\b.*\ba\b/);
    const typo = expectProblem(await post(app, '/v1/activations/tanh/derivative', { zz: [1] }), 400);
    expect(typo.detail).toMatch(/zz/);
  });
});
