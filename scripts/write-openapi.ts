/** Writes openapi.yaml at the repository root from the app's generated document (npm run openapi). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { defaultConfig } from '../src/config.js';

const target = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
const app = await buildApp(defaultConfig, { logger: false });
await app.ready();
writeFileSync(target, app.swagger({ yaml: true }));
await app.close();
process.stdout.write(`wrote ${target}\n`);
