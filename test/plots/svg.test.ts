/**
 * The activation plots, read back as XML: well-formed, one polyline per curve (g and g') whose points are
 * the sampled values mapped through the axes, axes, tick labels, title and legend; and the route's query rules.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { activations, defaultParams, findActivation } from '../../src/core/activations/index.js';
import { niceTicks, plotSvg, tickLabel } from '../../src/plots/svg.js';
import { buildTestApp, expectProblem } from '../support/app.js';

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

/** A strict little XML reader: every tag must close in order; returns the elements with attributes and text. */
function parseXml(xml: string): Element[] {
  const elements: Element[] = [];
  const stack: Element[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    expect(m.index, `unparsed text at ${consumed}: ${xml.slice(consumed, consumed + 40)}`).toBe(consumed);
    consumed = token.lastIndex;
    const [, closing, name, rawAttrs, selfClosing, text] = m;
    if (text !== undefined) {
      if (stack.length) stack[stack.length - 1].text += text;
      else expect(text.trim()).toBe('');
      continue;
    }
    if (closing) {
      expect(stack.pop()?.name, `</${name}> closes the wrong element`).toBe(name);
      continue;
    }
    const attrs = Object.fromEntries([...rawAttrs.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    const element = { name, attrs, text: '' };
    elements.push(element);
    if (!selfClosing) stack.push(element);
  }
  expect(consumed).toBe(xml.length);
  expect(stack.map((e) => e.name)).toEqual([]);
  return elements;
}

const decodeXml = (s: string) =>
  s.replace(
    /&lt;|&gt;|&quot;|&#39;|&amp;/g,
    (e) => ({ '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&amp;': '&' })[e] ?? e,
  );

const points = (e: Element) =>
  e.attrs.points.split(' ').map((p) => p.split(',').map(Number) as [number, number]);

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const get = (url: string) => app.inject({ method: 'GET', url });

describe('niceTicks and tickLabel', () => {
  it('step by 1, 2 or 5 times a power of ten and cover the range', () => {
    expect(niceTicks(-6, 6)).toEqual([-6, -4, -2, 0, 2, 4, 6]);
    expect(niceTicks(-0.05, 1.05)).toEqual([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
    expect(tickLabel(0.6000000000000001)).toBe('0.6');
    expect(tickLabel(-2)).toBe('\u22122');
    expect(tickLabel(-1e-17)).toBe('0');
  });
});

describe('plotSvg', () => {
  it('maps the samples through the axes: the highest sample is at the top of the range, in order of x', () => {
    const x = [0, 1, 2, 3];
    const svg = plotSvg({
      title: 'T <&>',
      xLabel: 'z',
      curves: [{ id: 'c', label: 'c', color: '#000', x, y: [0, 1, 4, 9] }],
    });
    const polyline = parseXml(svg).find((e) => e.name === 'polyline') as Element;
    const p = points(polyline);
    expect(p).toHaveLength(4);
    for (let i = 1; i < 4; i++) {
      expect(p[i][0]).toBeGreaterThan(p[i - 1][0]);
      expect(p[i][1]).toBeLessThan(p[i - 1][1]); // SVG y grows downwards
    }
    // Equal x steps map to equal pixel steps.
    expect(p[2][0] - p[1][0]).toBeCloseTo(p[1][0] - p[0][0], 1);
    expect(svg).toContain('T &lt;&amp;&gt;');
  });

  it('breaks a curve where a sample is not finite instead of drawing through it', () => {
    const svg = plotSvg({
      title: 't',
      xLabel: 'z',
      curves: [{ id: 'c', label: 'c', color: '#000', x: [0, 1, 2, 3, 4], y: [0, 1, Number.NaN, 1, 0] }],
    });
    expect(parseXml(svg).filter((e) => e.name === 'polyline')).toHaveLength(2);
  });
});

describe('GET /v1/activations/{name}/plot.svg', () => {
  it("draws g and g' as two polylines, with axes, ticks, title and legend, for every activation", async () => {
    for (const entry of activations) {
      const res = await get(`/v1/activations/${entry.name}/plot.svg`);
      expect(res.statusCode, entry.name).toBe(200);
      expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
      const elements = parseXml(res.body);
      expect(elements[0].name).toBe('svg');
      expect(elements[0].attrs.xmlns).toBe('http://www.w3.org/2000/svg');
      const g = elements.filter((e) => e.name === 'polyline' && e.attrs.class === 'curve g');
      const gPrime = elements.filter((e) => e.name === 'polyline' && e.attrs.class === 'curve g-prime');
      expect(g.length, entry.name).toBeGreaterThan(0);
      expect(gPrime.length, entry.name).toBeGreaterThan(0);
      expect(g[0].attrs.stroke).not.toBe(gPrime[0].attrs.stroke);
      expect(g.reduce((n, e) => n + points(e).length, 0)).toBeGreaterThan(100);
      expect(elements.some((e) => e.attrs.class === 'x-axis')).toBe(true);
      expect(elements.some((e) => e.attrs.class === 'y-axis')).toBe(true);
      const xTicks = elements.filter((e) => e.attrs.class === 'tick x-tick').map((e) => decodeXml(e.text));
      expect(xTicks).toEqual(['\u22126', '\u22124', '\u22122', '0', '2', '4', '6']);
      expect(elements.filter((e) => e.attrs.class === 'tick y-tick').length).toBeGreaterThanOrEqual(3);
      const title = elements.find((e) => e.attrs.class === 'title') as Element;
      expect(decodeXml(title.text)).toContain(entry.name);
      const legend = elements.filter((e) => e.attrs.class === 'legend-label').map((e) => decodeXml(e.text));
      expect(legend).toHaveLength(2);
      expect(legend[0]).toContain(entry.name);
      expect(legend[1]).toMatch(/g\u2032/);
    }
  });

  it('plots the sampled curve: sigmoid runs from near 0 to near 1 and its derivative peaks at z = 0', async () => {
    const elements = parseXml((await get('/v1/activations/sigmoid/plot.svg?from=-8&to=8')).body);
    const g = points(elements.find((e) => e.attrs.class === 'curve g') as Element);
    const gPrime = points(elements.find((e) => e.attrs.class === 'curve g-prime') as Element);
    // Increasing: y pixel decreases along the curve.
    for (let i = 1; i < g.length; i++) expect(g[i][1]).toBeLessThanOrEqual(g[i - 1][1]);
    const peak = gPrime.reduce((best, p) => (p[1] < best[1] ? p : best));
    const mid = (g[0][0] + g[g.length - 1][0]) / 2;
    expect(Math.abs(peak[0] - mid)).toBeLessThan(2);
  });

  it('takes params from the query and reflects them in the plot', async () => {
    const entry = activations.find((e) => e.params.length) as (typeof activations)[number];
    const p = entry.params[0];
    const value = (p.exclusiveMinimum ?? p.minimum ?? 0) + 0.2;
    const res = await get(`/v1/activations/${entry.name}/plot.svg?${p.name}=${value}`);
    expect(res.statusCode).toBe(200);
    const subtitle = parseXml(res.body).find((e) => e.attrs.class === 'subtitle') as Element;
    expect(subtitle.text).toContain(`${p.name} = ${value}`);
    const defaults = await get(`/v1/activations/${entry.name}/plot.svg`);
    expect(defaults.body).not.toBe(res.body);
    expect(defaultParams(entry)[p.name]).not.toBe(value);
  });

  it('plots a vector activation on its 2-class slice', async () => {
    const vector = activations.find((e) => e.kind === 'vector') as (typeof activations)[number];
    const elements = parseXml((await get(`/v1/activations/${vector.name}/plot.svg`)).body);
    const subtitle = elements.find((e) => e.attrs.class === 'subtitle') as Element;
    expect(subtitle.text).toMatch(/2-class slice/);
  });

  it('refuses bad ranges and params with a 400 problem, and an unknown name with a 404', async () => {
    const sigmoid = findActivation('sigmoid');
    expect(sigmoid).toBeDefined();
    for (const query of [
      'from=2&to=1',
      'from=1&to=1',
      'from=abc',
      'to=Infinity',
      'from=-1e7',
      'from=0&to=1e-9',
      'nonsense=1',
    ])
      expectProblem(await get(`/v1/activations/sigmoid/plot.svg?${query}`), 400, 'invalid-request');
    expectProblem(await get('/v1/activations/sigmoidd/plot.svg'), 404, 'unknown-activation');
  });

  it('is linked from the catalog entry', async () => {
    const info = (await get('/v1/activations/tanh')).json();
    expect(info.plot).toBe('/v1/activations/tanh/plot.svg');
    expect((await get(info.plot)).statusCode).toBe(200);
  });
});

describe('no NaN or Infinity in any plot', () => {
  /** Doubles as a hostile client picks them: anywhere in float64, and the edges (±MAX_VALUE, subnormals). */
  const anyDouble = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(
      1e308,
      -1e308,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      1e-308,
      0,
      -0,
      1,
      -1,
    ),
    fc.double({ min: -10, max: 10, noNaN: true }),
  );
  const range = fc
    .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }))
    .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
  const withParams = activations.filter((entry) => entry.params.length > 0);

  it('huge params (alpha = 1e308 for leaky_relu and elu) plot finite coordinates', async () => {
    for (const url of [
      '/v1/activations/leaky_relu/plot.svg?alpha=1e308',
      '/v1/activations/leaky_relu/plot.svg?alpha=-1e308',
      '/v1/activations/elu/plot.svg?alpha=1e308',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body).not.toMatch(/NaN|Infinity/);
      const curves = parseXml(res.body).filter((e) => e.name === 'polyline');
      expect(curves.length).toBeGreaterThan(0);
    }
  });

  it('for any params and range: a 400 problem, or an SVG whose every coordinate is finite and inside it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...withParams.map((entry) => entry.name)),
        fc.array(anyDouble, { minLength: 2, maxLength: 2 }),
        fc.option(range, { nil: undefined }),
        async (name, values, bounds) => {
          const entry = findActivation(name);
          if (!entry) throw new Error(`no activation ${name}`);
          const query = new URLSearchParams();
          entry.params.forEach((spec, i) => {
            query.set(spec.name, String(values[i % values.length]));
          });
          if (bounds) {
            query.set('from', String(bounds[0]));
            query.set('to', String(bounds[1]));
          }
          const res = await get(`/v1/activations/${entry.name}/plot.svg?${query}`);
          if (res.statusCode !== 200) {
            expectProblem(res, 400, 'invalid-request');
            return;
          }
          expect(res.body).not.toMatch(/NaN|Infinity/);
          const elements = parseXml(res.body);
          const svg = elements.find((e) => e.name === 'svg');
          const width = Number(svg?.attrs.width);
          const height = Number(svg?.attrs.height);
          for (const e of elements) {
            for (const name of ['x', 'y', 'x1', 'y1', 'x2', 'y2', 'width', 'height']) {
              if (e.attrs[name] === undefined) continue;
              const value = Number(e.attrs[name]);
              expect(Number.isFinite(value), `${e.name} ${name}=${e.attrs[name]}`).toBe(true);
            }
            if (e.name === 'polyline')
              for (const [x, y] of points(e)) {
                expect(x).toBeGreaterThanOrEqual(0);
                expect(x).toBeLessThanOrEqual(width);
                expect(y).toBeGreaterThanOrEqual(0);
                expect(y).toBeLessThanOrEqual(height);
              }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
