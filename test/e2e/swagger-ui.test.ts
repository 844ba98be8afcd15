/**
 * Swagger UI in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; never a downloaded
 * browser): open /docs on a real listening server, run "Try it out" on the sigmoid forward operation with its
 * documented example, and read the 200 response Swagger UI shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserHarness, startBrowserHarness } from '../support/browser.js';

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness();
});
afterAll(() => harness?.close());

describe('Swagger UI at /docs', () => {
  it('runs the sigmoid forward example with "Try it out" and shows the 200 response', async () => {
    const page = await harness.browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${harness.baseUrl}/docs`, { waitUntil: 'load' });

    // The forward operation's summary row: POST /v1/activations/{name}/forward.
    const operation = page
      .locator('.opblock.opblock-post')
      .filter({ has: page.locator('[data-path="/v1/activations/{name}/forward"]') });
    await expect.poll(() => operation.count(), { timeout: 20_000 }).toBe(1);
    await operation.locator('.opblock-summary').first().click();
    await operation.getByRole('button', { name: 'Try it out' }).click();

    // The documented example runs as is: the path parameter comes prefilled with sigmoid.
    const nameInput = operation
      .locator('tr[data-param-name="name"] input, tr[data-param-name="name"] select')
      .first();
    expect(await nameInput.inputValue()).toBe('sigmoid');
    const requestBody = await operation.locator('textarea.body-param__text').inputValue();
    const example = JSON.parse(requestBody) as { z: number[] };

    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toContain('200');

    const responseText = await operation
      .locator('.live-responses-table .response-col_description pre')
      .first()
      .textContent();
    const body = JSON.parse(responseText ?? '') as { a: number[] };
    expect(body.a).toHaveLength(example.z.length);
    body.a.forEach((a, i) => {
      expect(a).toBeCloseTo(1 / (1 + Math.exp(-example.z[i])), 15);
    });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
