/**
 * Prints, per activation of the golden vectors, our worst error in ulps (value, and derivative away from
 * kinks) next to PyTorch float64's from torch_error.json. Used for the README and closing notes:
 *   npx tsx scripts/accuracy-report.ts
 */
import { findActivation } from '../src/core/activations/index.js';
import { goldenActivations, loadGolden, ulpError } from '../test/support/golden.js';

interface TorchError {
  name: string;
  params: Record<string, number>;
  value: { max_ulp_err: number };
  derivative: { max_ulp_err: number };
}
const torch = loadGolden<{ activations: TorchError[] }>('torch_error.json').activations;

const fmt = (x: number) => (x < 1e4 ? String(Math.round(x * 100) / 100) : x.toExponential(1));

console.log(
  '| activation | params | ours: value | ours: derivative | PyTorch: value | PyTorch: derivative |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const g of goldenActivations()) {
  const entry = findActivation(g.name);
  const key = JSON.stringify(g.params);
  const t = torch.find((e) => e.name === g.name && JSON.stringify(e.params) === key);
  let value = Number.NaN;
  let derivative = Number.NaN;
  if (entry?.kind === 'elementwise') {
    value = Math.max(...g.cases.map((c) => ulpError(entry.forward(c.z, g.params), c.value)));
    derivative = Math.max(
      ...g.cases.filter((c) => !c.kink).map((c) => ulpError(entry.derivative(c.z, g.params), c.derivative)),
    );
  }
  const params = Object.keys(g.params).length ? key : '';
  console.log(
    `| ${g.name} | ${params} | ${fmt(value)} | ${fmt(derivative)} | ${fmt(t?.value.max_ulp_err ?? Number.NaN)} | ${fmt(t?.derivative.max_ulp_err ?? Number.NaN)} |`,
  );
}
