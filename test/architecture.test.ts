/**
 * The layers of src/ and what each may import (docs/architecture.md): checked on the import statements of
 * every source file, so a shortcut across layers fails here instead of growing quietly. Plugin order is
 * declared with fastify-plugin dependencies: a route plugin registered without them does not start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import activationRoutes from '../src/routes/activations.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Project files a source file imports, as paths relative to src/ ("core/tensor.ts"). */
function projectImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => relative(src, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

const layerOf = (path: string) => (path.includes('/') ? path.split('/')[0] : path);

/** Each layer and the layers it may import (besides itself). */
const allowed: Record<string, readonly string[]> = {
  'errors.ts': [],
  'error-size.ts': [],
  core: ['errors.ts'],
  codec: [],
  serialize: ['codec'],
  operations: ['core', 'errors.ts', 'serialize'],
  schemas: ['core', 'errors.ts', 'error-size.ts', 'serialize'],
};

describe('layers', () => {
  const files = sources(src).map((f) => ({ file: relative(src, f), imports: projectImports(f) }));

  for (const [layer, may] of Object.entries(allowed))
    it(`${layer} imports only ${may.length ? may.join(', ') : 'nothing of the project'}`, () => {
      const own = files.filter((f) => layerOf(f.file) === layer);
      expect(own.length).toBeGreaterThan(0);
      const crossings = own.flatMap((f) =>
        f.imports
          .filter((i) => layerOf(i) !== layer && !may.includes(layerOf(i)))
          .map((i) => `${f.file} -> ${i}`),
      );
      expect(crossings).toEqual([]);
    });

  it('nothing imports routes except the app and other routes', () => {
    const crossings = files.flatMap((f) =>
      f.imports
        .filter((i) => layerOf(i) === 'routes' && layerOf(f.file) !== 'routes' && f.file !== 'app.ts')
        .map((i) => `${f.file} -> ${i}`),
    );
    expect(crossings).toEqual([]);
  });
});

describe('plugin order is declared, not commented', () => {
  it('a route plugin registered before the plugins it needs does not start, naming the missing one', async () => {
    const app = Fastify({ logger: false });
    await expect(app.register(activationRoutes).ready()).rejects.toThrow(/dependency 'problem'/);
    await app.close().catch(() => {});
  });
});

describe('dependencies', () => {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const codeDirs = ['src', 'scripts', 'bench', 'test', 'tools'];
  const codeFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : codeFiles(path);
      return /\.(?:ts|mts|mjs|js)$/.test(entry.name) ? [path] : [];
    });

  it('every runtime dependency is imported by some file of the project (tools in devDependencies run as commands)', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const imported = new Set<string>();
    // A scoped name is two segments ('@fastify/swagger'), any other one ('fastify/types/...' -> 'fastify').
    for (const file of codeDirs.flatMap((dir) => codeFiles(join(root, dir))))
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(
        /(?:\bfrom|\bimport\(?|\brequire\()\s*['"]([^'"./][^'"]*)['"]/g,
      ))
        imported.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    const unused = Object.keys(manifest.dependencies ?? {}).filter((name) => !imported.has(name));
    expect(unused, 'dependencies nothing imports: npm uninstall them').toEqual([]);
  });
});
