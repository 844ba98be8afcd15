/**
 * Every route of the app, read from the app itself so that a route added later is fuzzed without anyone
 * listing it here: the OpenAPI document gives each documented operation's path parameters (with their enums),
 * query parameters, body media types and working example; Fastify's route tree (printRoutes) adds the routes
 * the document hides (/metrics, /openapi.json, /docs, ...), fuzzed through their URL and method only.
 */
import type { App } from '../../src/app.js';

export interface RouteParam {
  name: string;
  /** Allowed values when the document lists them (activation and model names). */
  values: string[];
  example?: string;
}

export interface Route {
  method: string;
  /** Path with `{param}` placeholders, as in the OpenAPI document. */
  template: string;
  params: RouteParam[];
  query: RouteParam[];
  /** The media types the operation's body may have. */
  mediaTypes: string[];
  /** Media type -> example body (JSON value) for operations that take one. */
  bodies: Map<string, unknown>;
  /** Field names anywhere in the JSON body schema (z, params, inputs, shape, ...), to aim mutations at. */
  fieldNames: string[];
  /** For a route that takes the binary tensor media type: its example's tensor fields (they become inputs). */
  binaryTensorFields: string[];
  documented: boolean;
}

/**
 * Which error shape a path gets: `{ error }` under /v2, problem+json elsewhere. A /v2 prefix spelled with
 * percent-encoded letters (/%762/...) is either: the router decodes it when a route matches (the /v2 handler
 * answers), but an unmatched one reaches the root's not-found handler.
 */
export function surfaceOf(path: string): 'v2' | 'other' | 'either' {
  const v2 = (p: string) => /^\/v2(?:[/?#]|$)/.test(p);
  if (v2(path)) return 'v2';
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9._~-]/.test(char) ? char : encoded;
  });
  return v2(decoded) ? 'either' : 'other';
}

export const isV2Path = (path: string): boolean => surfaceOf(path) === 'v2';

type Schema = Record<string, unknown>;

function collectFieldNames(schema: unknown, into: Set<string>, seen = new Set<unknown>()): void {
  if (schema === null || typeof schema !== 'object' || seen.has(schema)) return;
  seen.add(schema);
  const properties = (schema as Schema).properties;
  if (properties && typeof properties === 'object')
    for (const key of Object.keys(properties as Schema)) into.add(key);
  for (const value of Object.values(schema as Schema)) collectFieldNames(value, into, seen);
}

interface OpenApiParameter {
  in: string;
  name: string;
  schema?: { enum?: string[] };
  example?: string;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content: Record<string, { schema?: unknown; example?: unknown; examples?: unknown }> };
}

const exampleOf = (media: { schema?: unknown; example?: unknown; examples?: unknown }): unknown => {
  if (media.example !== undefined) return media.example;
  if (media.examples && typeof media.examples === 'object') {
    const first = Object.values(media.examples as Record<string, { value?: unknown }>)[0];
    if (first && typeof first === 'object' && 'value' in first) return first.value;
  }
  const inSchema = (media.schema as { examples?: unknown[] } | undefined)?.examples;
  return Array.isArray(inSchema) ? inSchema[0] : undefined;
};

const isNumbers = (value: unknown): boolean =>
  Array.isArray(value) && value.every((v) => typeof v === 'number' || isNumbers(v));

/** The fields of a JSON example that are tensors (arrays of numbers, or of arrays of numbers). */
function tensorFields(example: unknown): string[] {
  if (example === null || typeof example !== 'object') return [];
  return Object.entries(example)
    .filter(([, value]) => Array.isArray(value) && value.length > 0 && isNumbers(value))
    .map(([key]) => key);
}

/** The route tree of printRoutes as [method, path] pairs (Fastify's `:param` and `*` syntax). */
export function registeredRoutes(app: App): [string, string][] {
  const out: [string, string][] = [];
  const stack: { depth: number; path: string }[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    while (stack.length && stack[stack.length - 1].depth >= depth) stack.pop();
    const path = (stack.length ? stack[stack.length - 1].path : '') + match[2];
    stack.push({ depth, path });
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()))
      if (method) out.push([method, path]);
  }
  return out;
}

/** The operations of an OpenAPI document (as /openapi.json serves it) as routes. */
export function documentedRoutes(document: {
  paths: Record<string, Record<string, OpenApiOperation>>;
}): Route[] {
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(document.paths))
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? [];
      const param = (p: OpenApiParameter): RouteParam => ({
        name: p.name,
        values: p.schema?.enum ?? [],
        example: p.example,
      });
      const bodies = new Map<string, unknown>();
      const fieldNames = new Set<string>();
      let binaryTensor = false;
      for (const [media, content] of Object.entries(operation.requestBody?.content ?? {})) {
        collectFieldNames(content.schema, fieldNames);
        const example = exampleOf(content);
        if (example !== undefined) bodies.set(media, example);
        if (media.includes('tensor+octet-stream')) binaryTensor = true;
      }
      routes.push({
        method: method.toUpperCase(),
        template,
        params: parameters.filter((p) => p.in === 'path').map(param),
        query: parameters.filter((p) => p.in === 'query').map(param),
        mediaTypes: Object.keys(operation.requestBody?.content ?? {}),
        bodies,
        fieldNames: [...fieldNames],
        binaryTensorFields: binaryTensor ? tensorFields(bodies.get('application/json')) : [],
        documented: true,
      });
    }
  return routes;
}

export function discoverRoutes(app: App): Route[] {
  const routes = documentedRoutes(app.swagger() as Parameters<typeof documentedRoutes>[0]);
  const documented = new Set(routes.map((r) => `${r.method} ${r.template}`));
  // Routes the document hides: their URL and method are fuzzed too (HEAD comes with every GET).
  for (const [method, path] of registeredRoutes(app)) {
    const template = path.replace(/:(\w+)/g, '{$1}');
    if (method === 'HEAD' || documented.has(`${method} ${template}`)) continue;
    routes.push({
      method,
      template,
      params: [...template.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({ name, values: [] })),
      query: [],
      mediaTypes: [],
      bodies: new Map(),
      fieldNames: [],
      binaryTensorFields: [],
      documented: false,
    });
  }
  return routes;
}

/** The path of a route with its parameters filled in (each already URL-safe). */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template
    .replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'x')
    .replace(/\*$/, values['*'] ?? '');
}

/** A working path for the route: each parameter's example or first allowed value. */
export function examplePath(route: Route): string {
  const values: Record<string, string> = {};
  for (const p of route.params) values[p.name] = encodeURIComponent(p.example ?? p.values[0] ?? 'x');
  return fillTemplate(route.template, values);
}
