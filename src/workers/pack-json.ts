/**
 * A JSON request body parsed into float64 tensors, for bodies large enough to parse off the event loop:
 * every top-level array field becomes a packed tensor (a vector or a rectangular batch of finite numbers),
 * every other field stays as parsed. The text is scanned against the parsing limits first
 * (src/codec/bounded-json.ts), so a body nested a million deep is refused at its 33rd bracket and never
 * built here (nor posted back, which a deep value cannot be). Anything unusual (invalid JSON, a limit
 * crossed, a forbidden key, a top-level array that is not a clean tensor) gives undefined, and the event
 * loop parses the body with the same bounded parser, so errors are reported exactly as for small bodies.
 */
import { parseJson } from '../codec/bounded-json.js';

export interface PackedJsonTensor {
  readonly name: string;
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
  readonly batched: boolean;
}

export interface PackedJson {
  /** Field names in body order. */
  readonly keys: readonly string[];
  /** The fields that are not tensors, as parsed. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly tensors: readonly PackedJsonTensor[];
}

function packVector(row: unknown[], out: Float64Array, offset: number): boolean {
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    out[offset + i] = v;
  }
  return true;
}

function packTensor(name: string, value: unknown[]): PackedJsonTensor | undefined {
  if (value.length === 0) return undefined;
  if (!Array.isArray(value[0])) {
    const data = new Float64Array(value.length);
    return packVector(value, data, 0)
      ? { name, data, rows: 1, cols: value.length, batched: false }
      : undefined;
  }
  const cols = (value[0] as unknown[]).length;
  if (cols === 0) return undefined;
  const data = new Float64Array(value.length * cols);
  for (let r = 0; r < value.length; r++) {
    const row = value[r];
    if (!Array.isArray(row) || row.length !== cols || !packVector(row, data, r * cols)) return undefined;
  }
  return { name, data, rows: value.length, cols, batched: true };
}

/** maxArrayItems: the most items of any one array (MAX_ELEMENTS), checked by the scan before parsing. */
export function packJson(body: Uint8Array, maxArrayItems = Number.POSITIVE_INFINITY): PackedJson | undefined {
  let parsed: unknown;
  try {
    parsed = parseJson(body, 0, body.length, maxArrayItems);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const keys = Object.keys(parsed);
  const values: Record<string, unknown> = {};
  const tensors: PackedJsonTensor[] = [];
  for (const key of keys) {
    const value = (parsed as Record<string, unknown>)[key];
    if (!Array.isArray(value)) {
      values[key] = value;
      continue;
    }
    const tensor = packTensor(key, value);
    if (!tensor) return undefined;
    tensors.push(tensor);
  }
  return { keys, values, tensors };
}
