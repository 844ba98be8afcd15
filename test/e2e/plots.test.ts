/**
 * The activation plots as a browser renders them (Debian's /usr/bin/chromium, driven by playwright-core; never a
 * downloaded browser): load plot.svg from a real listening server, screenshot it, and count pixels of the two
 * curve colours, so a plot that parses but draws nothing (or one curve only) fails.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plotColors } from '../../src/plots/activation.js';
import { type BrowserHarness, startBrowserHarness } from '../support/browser.js';

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness();
});
afterAll(() => harness?.close());

const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));

/** Pixels of the page whose colour is within `tolerance` per channel of `hex` (antialiasing blends edges). */
async function countColour(page: import('playwright-core').Page, png: Buffer, hex: string, tolerance = 24) {
  // Decode the PNG in the page itself: no image library needed in the test.
  return page.evaluate(
    async ({ data, target, tolerance }) => {
      const blob = new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], { type: 'image/png' });
      // The page's DOM globals (the test compiles without lib.dom, so they are typed here by hand).
      const dom = globalThis as unknown as {
        createImageBitmap(b: Blob): Promise<{ width: number; height: number }>;
        OffscreenCanvas: new (
          w: number,
          h: number,
        ) => {
          getContext(kind: '2d'): {
            drawImage(image: unknown, x: number, y: number): void;
            getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
          };
        };
      };
      const bitmap = await dom.createImageBitmap(blob);
      const ctx = new dom.OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
      ctx.drawImage(bitmap, 0, 0);
      const pixels = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
      let n = 0;
      let nonWhite = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
        if (r < 250 || g < 250 || b < 250) nonWhite++;
        if (
          Math.abs(r - target[0]) <= tolerance &&
          Math.abs(g - target[1]) <= tolerance &&
          Math.abs(b - target[2]) <= tolerance
        )
          n++;
      }
      return { n, nonWhite, total: pixels.length / 4 };
    },
    { data: png.toString('base64'), target: rgb(hex), tolerance },
  );
}

describe('activation plots in Chromium', () => {
  for (const [name, query] of [
    ['sigmoid', ''],
    ['leaky_relu', '?alpha=0.2&from=-3&to=3'],
    ['softmax', ''],
  ] as const) {
    it(`renders ${name}${query}: both curves drawn in their colours`, async () => {
      const page = await harness.browser.newPage();
      await page.setViewportSize({ width: 760, height: 480 });
      const response = await page.goto(`${harness.baseUrl}/v1/activations/${name}/plot.svg${query}`, {
        waitUntil: 'load',
      });
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-type']).toMatch(/^image\/svg\+xml/);
      const png = await page.screenshot({ clip: { x: 0, y: 0, width: 720, height: 440 } });
      if (name === 'sigmoid') writeFileSync(join(tmpdir(), 'gs-plot-sigmoid.png'), png);
      const g = await countColour(page, png, plotColors.g);
      const gPrime = await countColour(page, png, plotColors.gPrime);
      // A 2.5 px line across ~630 px of plot is well over 600 pixels; the legend swatch alone is ~60.
      expect(g.n, 'pixels of the g colour').toBeGreaterThan(600);
      expect(gPrime.n, "pixels of the g' colour (dashed)").toBeGreaterThan(300);
      expect(g.nonWhite / g.total).toBeGreaterThan(0.02);
      await page.close();
    });
  }
});
