/**
 * Swagger UI in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core; never a downloaded
 * browser): open /docs on a real listening server, run "Try it out" on the sigmoid forward operation with its
 * documented example, and read the 200 response Swagger UI shows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let app: App;
let baseUrl: string;
let browser: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  app = await buildApp({ ...defaultConfig, logLevel: 'silent' }, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  baseUrl = `http://127.0.0.1:${address.port}`;
  userDataDir = mkdtempSync(join(tmpdir(), 'gs-chromium-'));
  // A persistent context is playwright's way to pass a fresh --user-data-dir.
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe('Swagger UI at /docs', () => {
  it('runs the sigmoid forward example with "Try it out" and shows the 200 response', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });

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
