/** GET /: a small JSON index pointing a person who types the host name to the docs and the surfaces. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../support/app.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

describe('GET /', () => {
  it('names the service and links to /docs, /openapi.json and /v2, each of which answers', async () => {
    // With API keys on: the index and what it links to for reading are open.
    const app = await buildTestApp({ apiKeys: ['k'.repeat(32)] });
    try {
      const res = await app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const index = res.json() as { name: string; version: string; links: Record<string, string> };
      expect(index.name).toBe(pkg.name);
      expect(index.version).toBe(pkg.version);
      expect(index.links).toMatchObject({ docs: '/docs', openapi: '/openapi.json', v2: '/v2' });
      for (const link of ['docs', 'openapi', 'openapiYaml', 'health']) {
        const target = await app.inject({ method: 'GET', url: index.links[link] });
        expect(target.statusCode, link).toBeLessThan(400);
      }
      const authorization = `Bearer ${'k'.repeat(32)}`;
      for (const link of ['v1', 'v2']) {
        const target = await app.inject({
          method: 'GET',
          url: index.links[link],
          headers: { authorization },
        });
        expect(target.statusCode, link).toBe(200);
      }
    } finally {
      await app.close();
    }
  });
});
