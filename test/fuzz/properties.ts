/**
 * What every answer to a hostile request must satisfy, whatever the request:
 * - no 5xx;
 * - an error has its surface's shape: problem+json (type, title, status equal to the HTTP status, detail)
 *   outside /v2, `{ "error": string }` as application/json under /v2;
 * - an error body is under 16 KB (a long list of errors is capped, not echoed);
 * - a 2xx from /v1 or /v2 never carries a non-finite number or a null in JSON, nor NaN / Infinity in an SVG.
 * `violations` returns what is wrong (empty when nothing is), so one report can name every broken property.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { surfaceOf } from './routes.js';

export const maxErrorBodyBytes = 16 * 1024;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  bodyBytes: number;
}

const header = (answer: Answer, name: string): string => {
  const value = answer.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
};

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/** The first non-finite number or null in a JSON value, as a pointer, or undefined. */
function badNumber(value: unknown, path = ''): string | undefined {
  if (value === null) return `${path || '/'} is null`;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path || '/'} is ${value}`;
  if (typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const found = badNumber(child, `${path}/${key}`);
    if (found) return found;
  }
  return undefined;
}

const decoders: Record<string, (body: Buffer) => Buffer> = {
  gzip: gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * The body as the client reads it: decoded from its Content-Encoding (a request that accepts gzip gets a
 * compressed JSON reply). A body cut short (an error beyond what is kept) or that does not decode stays as it
 * came, and is judged so.
 */
function decodedBody(answer: Answer): Buffer {
  const decode = decoders[header(answer, 'content-encoding')];
  if (!decode || answer.body.length < answer.bodyBytes) return answer.body;
  try {
    return decode(answer.body);
  } catch {
    return answer.body;
  }
}

/** What is wrong with the answer to a request for `path` (empty when nothing is). */
export function violations(method: string, path: string, received: Answer): string[] {
  const out: string[] = [];
  const answer = { ...received, body: decodedBody(received) };
  const { status } = answer;
  const contentType = header(answer, 'content-type');
  const text = () => answer.body.toString('utf8', 0, 400);
  if (status >= 500) out.push(`status ${status} (no request may get a 5xx): ${text()}`);
  if (status >= 200 && status < 300) {
    if (method === 'HEAD') return out; // no body to judge
    if (/json/.test(contentType)) {
      const parsed = parseJson(answer.body);
      if (!parsed.ok) out.push(`a ${status} whose JSON body does not parse: ${text()}`);
      // Computed replies (/v1, /v2) never carry null or a non-finite number; documents (the OpenAPI
      // document's examples) may hold a null.
      else if (/^\/(?:v1|v2)(?:[/?#]|$)/.test(path)) {
        const bad = badNumber(parsed.value);
        if (bad) out.push(`a ${status} with a non-number in its JSON: ${bad}`);
      }
    }
    if (/svg/.test(contentType) && /NaN|Infinity/.test(answer.body.toString('utf8')))
      out.push(`a ${status} SVG with NaN or Infinity in it`);
    return out;
  }
  if (status < 400) return out;

  if (answer.bodyBytes >= maxErrorBodyBytes)
    out.push(`a ${status} error body of ${answer.bodyBytes} bytes (the cap is ${maxErrorBodyBytes})`);
  // A body too large to keep whole is already a violation above; its shape cannot be judged.
  if (method === 'HEAD' || received.body.length < received.bodyBytes) return out;
  const parsed = parseJson(answer.body);
  const surface = surfaceOf(path);
  const v2 = v2Shape(status, contentType, parsed, text);
  const problem = problemShape(status, contentType, parsed, text);
  if (surface === 'v2') out.push(...v2);
  else if (surface === 'other') out.push(...problem);
  else if (v2.length && problem.length) out.push(`neither error shape: ${v2[0]}`);
  return out;
}

type Parsed = { ok: true; value: unknown } | { ok: false };

/** What keeps an error from being the Open Inference Protocol's `{ "error": string }` as application/json. */
function v2Shape(status: number, contentType: string, parsed: Parsed, text: () => string): string[] {
  const out: string[] = [];
  if (!/^application\/json\b/.test(contentType))
    out.push(
      `a /v2 ${status} with Content-Type ${JSON.stringify(contentType)}, not application/json: ${text()}`,
    );
  if (!parsed.ok) out.push(`a /v2 ${status} whose body is not JSON: ${text()}`);
  else {
    const body = parsed.value as Record<string, unknown>;
    const keys = body && typeof body === 'object' ? Object.keys(body) : [];
    if (keys.length !== 1 || keys[0] !== 'error' || typeof body.error !== 'string' || body.error === '')
      out.push(`a /v2 ${status} whose body is not { "error": string }: ${text()}`);
  }
  return out;
}

/** What keeps an error from being RFC 9457 problem+json with type, title, detail and the HTTP status. */
function problemShape(status: number, contentType: string, parsed: Parsed, text: () => string): string[] {
  const out: string[] = [];
  if (!/^application\/problem\+json\b/.test(contentType))
    out.push(
      `a ${status} with Content-Type ${JSON.stringify(contentType)}, not application/problem+json: ${text()}`,
    );
  if (!parsed.ok) out.push(`a ${status} whose body is not JSON: ${text()}`);
  else {
    const body = parsed.value as Record<string, unknown>;
    const problem = body !== null && typeof body === 'object' ? body : {};
    const missing = ['type', 'title', 'detail'].filter(
      (k) => typeof problem[k] !== 'string' || problem[k] === '',
    );
    if (missing.length || problem.status !== status)
      out.push(`a ${status} that is not a problem (type, title, status = ${status}, detail): ${text()}`);
  }
  return out;
}

/**
 * A 2xx in a media type the request's Accept refused by name (q=0), e.g. a binary reply to
 * `Accept: application/vnd.gradient-service.tensor+octet-stream;q=0`.
 */
export function refusedMediaType(accept: string | undefined, answer: Answer): string | undefined {
  if (!accept || answer.status < 200 || answer.status >= 300) return undefined;
  const type = header(answer, 'content-type').split(';')[0].trim().toLowerCase();
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (range === type && q !== undefined && Number(q.slice(2)) === 0)
      return `a ${answer.status} in ${type}, which the request's Accept refused (${accept})`;
  }
  return undefined;
}
