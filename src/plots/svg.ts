/**
 * Line plots as SVG text, built directly (no browser, no canvas): a frame, grid, axes through 0 where 0 is
 * in range, "nice" tick labels (1, 2, 5 x 10^n), a title, a legend, one polyline per curve. Pure: numbers in,
 * a string out. Curves are sampled by the caller; non-finite samples break the line.
 */

export interface Curve {
  /** Legend text. */
  readonly label: string;
  /** Stroke colour (CSS). */
  readonly color: string;
  /** The polyline's class, for styling and for tests. */
  readonly id: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly dashed?: boolean;
}

export interface PlotSpec {
  readonly title: string;
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly curves: readonly Curve[];
  readonly width?: number;
  readonly height?: number;
}

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** Ticks at 1, 2 or 5 x 10^n covering [lo, hi] with about `target` intervals. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  // hi / target - lo / target, not (hi - lo) / target: the difference of two values near ±1.8e308 overflows.
  const raw = hi / target - lo / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  // The loop runs over k, not over k * step <= hi + slack: near MAX_VALUE the slack rounds hi up to Infinity.
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) {
    const tick = k * step + 0; // + 0 turns -0 into 0
    if (Number.isFinite(tick)) ticks.push(tick);
  }
  return ticks;
}

/** A tick label without float noise (0.30000000000000004 -> 0.3) and without "-0". */
export function tickLabel(value: number): string {
  if (Math.abs(value) < 1e-12) return '0';
  const text = Number(value.toPrecision(6)).toString();
  return text.replace('-', '\u2212');
}

const clampFinite = (v: number) => Math.min(Number.MAX_VALUE, Math.max(-Number.MAX_VALUE, v));

/**
 * The y range of the curves, padded by 6%, and widened when flat so that a constant still shows. Finite for
 * any finite samples: the padding is computed from halves and the padded ends are clamped to ±MAX_VALUE, so
 * curves reaching ±1e308 (leaky_relu with alpha = 1e308) do not overflow to Infinity and NaN coordinates.
 */
function yRange(curves: readonly Curve[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of curves)
    for (const y of c.y)
      if (Number.isFinite(y)) {
        if (y < lo) lo = y;
        if (y > hi) hi = y;
      }
  if (lo > hi) return [-1, 1];
  const halfSpan = hi / 2 - lo / 2;
  if (halfSpan < 0.5e-9 * Math.max(1, Math.abs(hi))) {
    const pad = Math.max(1, Math.abs(hi)) * 0.5;
    return [clampFinite(lo - pad), clampFinite(hi + pad)];
  }
  const pad = halfSpan * 0.12;
  return [clampFinite(lo - pad), clampFinite(hi + pad)];
}

/** Maps [lo, hi] onto [0, 1] without forming hi - lo, which overflows when lo and hi are near ∓1.8e308. */
const unitScale = (lo: number, hi: number) => {
  const halfSpan = hi / 2 - lo / 2;
  return (v: number) => (v / 2 - lo / 2) / halfSpan;
};

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

export function plotSvg(spec: PlotSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 440;
  const margin = { left: 64, right: 24, top: spec.subtitle ? 64 : 48, bottom: 52 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const xs = spec.curves.flatMap((c) => c.x);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const [y0, y1] = yRange(spec.curves);
  const ux = unitScale(x0, x1);
  const uy = unitScale(y0, y1);
  const sx = (x: number) => margin.left + ux(x) * plotW;
  const sy = (y: number) => margin.top + (1 - uy(y)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  );

  // Grid and tick labels.
  const grid: string[] = [];
  const labels: string[] = [];
  for (const t of niceTicks(x0, x1)) {
    const x = fmt(sx(t));
    grid.push(`<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}"/>`);
    labels.push(
      `<text class="tick x-tick" x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  for (const t of niceTicks(y0, y1)) {
    const y = fmt(sy(t));
    grid.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}"/>`);
    labels.push(
      `<text class="tick y-tick" x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  out.push(`<g class="grid" stroke="#e5e5e5" stroke-width="1">${grid.join('')}</g>`);
  out.push(`<g class="tick-labels" fill="#333333">${labels.join('')}</g>`);

  // Axes: through the origin where 0 is in range, else along the frame's edge.
  const axisY = fmt(sy(y0 <= 0 && 0 <= y1 ? 0 : y0));
  const axisX = fmt(sx(x0 <= 0 && 0 <= x1 ? 0 : x0));
  out.push(
    `<g class="axes" stroke="#444444" stroke-width="1.2">`,
    `<line class="x-axis" x1="${margin.left}" y1="${axisY}" x2="${margin.left + plotW}" y2="${axisY}"/>`,
    `<line class="y-axis" x1="${axisX}" y1="${margin.top}" x2="${axisX}" y2="${margin.top + plotH}"/>`,
    `</g>`,
    `<rect class="frame" x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999999"/>`,
  );

  // Curves: one polyline per finite run, clipped to the frame.
  out.push(
    `<defs><clipPath id="plot-area"><rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}"/></clipPath></defs>`,
  );
  for (const c of spec.curves) {
    const runs: string[][] = [[]];
    for (let i = 0; i < c.x.length; i++) {
      if (!Number.isFinite(c.y[i])) {
        if (runs[runs.length - 1].length) runs.push([]);
        continue;
      }
      runs[runs.length - 1].push(`${fmt(sx(c.x[i]))},${fmt(sy(c.y[i]))}`);
    }
    const dash = c.dashed ? ' stroke-dasharray="7 4"' : '';
    for (const run of runs.filter((r) => r.length > 1))
      out.push(
        `<polyline class="curve ${c.id}" clip-path="url(#plot-area)" fill="none" stroke="${c.color}" stroke-width="2.5"${dash} stroke-linejoin="round" points="${run.join(' ')}"/>`,
      );
  }

  // Legend, top left inside the frame, on a white box so curves do not cross the text.
  const legendW = Math.max(...spec.curves.map((c) => c.label.length)) * 7.4 + 48;
  out.push(
    `<g class="legend">`,
    `<rect x="${margin.left + 10}" y="${margin.top + 10}" width="${fmt(legendW)}" height="${spec.curves.length * 20 + 10}" fill="#ffffff" fill-opacity="0.9" stroke="#cccccc"/>`,
  );
  spec.curves.forEach((c, i) => {
    const y = margin.top + 25 + i * 20;
    const dash = c.dashed ? ' stroke-dasharray="7 4"' : '';
    out.push(
      `<line x1="${margin.left + 18}" y1="${y}" x2="${margin.left + 42}" y2="${y}" stroke="${c.color}" stroke-width="2.5"${dash}/>`,
      `<text class="legend-label" x="${margin.left + 48}" y="${y}" dominant-baseline="middle" fill="#222222">${escapeXml(c.label)}</text>`,
    );
  });
  out.push(`</g>`);

  // Title, subtitle, x label.
  out.push(
    `<text class="title" x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold" fill="#111111">${escapeXml(spec.title)}</text>`,
  );
  if (spec.subtitle)
    out.push(
      `<text class="subtitle" x="${width / 2}" y="46" text-anchor="middle" font-size="12" fill="#555555">${escapeXml(spec.subtitle)}</text>`,
    );
  out.push(
    `<text class="x-label" x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle" fill="#333333">${escapeXml(spec.xLabel)}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
