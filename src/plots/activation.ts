/**
 * The curves of an activation plot: g and g' sampled over [from, to], from the table entry alone. A vector
 * activation (softmax family) is shown on its 2-class slice z = (t, 0): a_1(t) and da_1/dz_1 = (e_1^T J)_1,
 * the latter from the entry's own vector-Jacobian product, so no activation is special-cased here.
 */
import type { Activation, Params } from '../core/activations/index.js';
import { type PlotSpec, plotSvg } from './svg.js';

export const plotColors = { g: '#1f62b4', gPrime: '#e8590c' } as const;

/** Samples across the range: enough that kinks and the steepest curves look smooth at 720 px. */
const samples = 601;

export function activationPlot(entry: Activation, params: Params, from: number, to: number): PlotSpec {
  const t = Array.from({ length: samples }, (_, i) =>
    i === samples - 1 ? to : from + ((to - from) * i) / (samples - 1),
  );
  let g: number[];
  let gPrime: number[];
  if (entry.kind === 'elementwise') {
    g = t.map((z) => entry.forward(z, params));
    gPrime = t.map((z) => entry.derivative(z, params));
  } else {
    const K = 2;
    const z = new Float64Array(samples * K);
    for (let i = 0; i < samples; i++) z[i * K] = t[i];
    const a = new Float64Array(z.length);
    entry.forwardRows(z, K, a);
    const v = new Float64Array(z.length);
    for (let i = 0; i < samples; i++) v[i * K] = 1;
    const vjp = new Float64Array(z.length);
    entry.backwardRows(z, a, v, K, vjp);
    g = t.map((_, i) => a[i * K]);
    gPrime = t.map((_, i) => vjp[i * K]);
  }
  const paramText = Object.entries(params)
    .map(([k, v]) => `${k} = ${v}`)
    .join(', ');
  const slice = entry.kind === 'vector' ? '2-class slice z = (t, 0), first output' : '';
  const subtitle = [slice, paramText].filter(Boolean).join('; ');
  const variable = entry.kind === 'vector' ? 't' : 'z';
  return {
    title: `${entry.name}: g(${variable}) and g\u2032(${variable}) on [${from}, ${to}]`,
    ...(subtitle ? { subtitle } : {}),
    xLabel: variable,
    curves: [
      { id: 'g', label: `g(${variable}) = ${entry.name}(${variable})`, color: plotColors.g, x: t, y: g },
      {
        id: 'g-prime',
        label: entry.kind === 'vector' ? 'g\u2032(t) = \u2202a\u2081/\u2202z\u2081' : `g\u2032(${variable})`,
        color: plotColors.gPrime,
        x: t,
        y: gPrime,
        dashed: true,
      },
    ],
  };
}

export function activationPlotSvg(entry: Activation, params: Params, from: number, to: number): string {
  return plotSvg(activationPlot(entry, params, from, to));
}
