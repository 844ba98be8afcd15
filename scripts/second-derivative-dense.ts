/**
 * The g'' kernels against a dense sweep of reference points (tools/golden/dense_second.py: mpmath, thousands
 * of points per entry, the public and hidden profiles' params), beyond the golden file's ~75 per entry:
 *   /usr/bin/python3 tools/golden/dense_second.py 7 4000 /tmp/dense.json && npx tsx scripts/second-derivative-dense.ts /tmp/dense.json
 * Prints the worst error in ulps per entry (and for g'' from a), with where it occurs.
 */
import { readFileSync } from 'node:fs';
import { findActivation } from '../src/core/activations/index.js';

interface Sweep {
  activations: { name: string; params: Record<string, number>; cases: [number, number][] }[];
  from_output: Record<string, [number, number][]>;
}

const scratch = new DataView(new ArrayBuffer(8));
function ulp(x: number): number {
  scratch.setFloat64(0, Math.abs(x));
  const exponent = scratch.getUint16(0) >> 4;
  return exponent === 0 ? 2 ** -1074 : 2 ** (exponent - 1075);
}
const ulpError = (got: number, want: number) =>
  Number.isNaN(got) ? Number.POSITIVE_INFINITY : got === want ? 0 : Math.abs(got - want) / ulp(want);

function worst(rows: [number, number][], f: (x: number) => number) {
  let w = { ulp: 0, at: Number.NaN };
  for (const [x, want] of rows) {
    const u = ulpError(f(x), want);
    if (u > w.ulp || Number.isNaN(w.at)) w = { ulp: u, at: x };
  }
  return w;
}

const sweep = JSON.parse(readFileSync(process.argv[2] ?? '/tmp/dense.json', 'utf8')) as Sweep;
for (const e of sweep.activations) {
  const entry = findActivation(e.name);
  if (entry?.kind !== 'elementwise') throw new Error(`${e.name}: not elementwise`);
  const w = worst(e.cases, (z) => entry.secondDerivative(z, e.params));
  console.log(
    `${`${e.name} ${JSON.stringify(e.params)}`.padEnd(28)} ${String(e.cases.length).padStart(5)} points  worst ${w.ulp.toFixed(2)} ulp at z = ${w.at}`,
  );
}
for (const [name, rows] of Object.entries(sweep.from_output)) {
  const entry = findActivation(name);
  const fromOutput = entry?.kind === 'elementwise' ? entry.secondDerivativeFromOutput : undefined;
  if (!fromOutput) throw new Error(`${name}: no g'' from a`);
  const w = worst(rows, (a) => fromOutput(a, {}));
  console.log(
    `${`${name} from a`.padEnd(28)} ${String(rows.length).padStart(5)} points  worst ${w.ulp.toFixed(2)} ulp at a = ${w.at}`,
  );
}
