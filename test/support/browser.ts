/**
 * A real listening app and Debian's Chromium (/usr/bin/chromium, driven by playwright-core; never a
 * downloaded browser) with the flags this closed network needs and a fresh profile, for the e2e tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';

export interface BrowserHarness {
  readonly app: App;
  readonly baseUrl: string;
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

export async function startBrowserHarness(): Promise<BrowserHarness> {
  const app = await buildApp({ ...defaultConfig, logLevel: 'silent' }, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const userDataDir = mkdtempSync(join(tmpdir(), 'gs-chromium-'));
  // A persistent context is playwright's way to pass a fresh --user-data-dir.
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // Without these, Chromium's background connections are refused by the closed network, many at a time.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    browser,
    async close() {
      await browser.close();
      await app.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
