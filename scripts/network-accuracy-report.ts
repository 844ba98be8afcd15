/**
 * Prints, per golden network case (network.json), the worst normwise deviation from mpmath over every
 * returned tensor and the loss, max |got - ref| / max |ref|, ours next to PyTorch float64's, and the entries
 * where PyTorch returns exactly 0 for a normal true value. Used for the README and closing notes:
 *   npx tsx scripts/network-accuracy-report.ts
 */
import { DBL_MIN, maxNormDeviation } from '../test/support/compare.js';
import { goldenNetworks, quantities, runNetwork } from '../test/support/network.js';

const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));

console.log(
  '| case | ours: worst normwise (where) | PyTorch: worst normwise (where) | PyTorch 0 for a normal value | ours there: max rel. error |',
);
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const c of goldenNetworks()) {
  const exact = quantities(c.mpmath);
  const torch = quantities(c.expected);
  const ours = quantities(runNetwork(c.request));
  const worst = (of: Map<string, ArrayLike<number>>) => {
    let at = '';
    let max = -1;
    for (const [path, got] of of) {
      const d = maxNormDeviation(got, exact.get(path) ?? []);
      if (d > max) [max, at] = [d, path];
    }
    return `${fmt(max)} (${at.slice(1)})`;
  };
  let zeros = 0;
  let oursThere = 0;
  for (const [path, want] of exact) {
    const t = torch.get(path) ?? [];
    const o = ours.get(path) ?? [];
    for (let i = 0; i < want.length; i++) {
      if (t[i] !== 0 || Math.abs(want[i]) < DBL_MIN) continue;
      zeros++;
      oursThere = Math.max(oursThere, Math.abs(o[i] - want[i]) / Math.abs(want[i]));
    }
  }
  const name = c.name.replace(/ N=.*$/, '');
  console.log(
    `| ${name} (N=${c.N}, ${c.widths.join('-')}) | ${worst(ours)} | ${worst(torch)} | ${zeros} | ${zeros ? fmt(oursThere) : ''} |`,
  );
}
