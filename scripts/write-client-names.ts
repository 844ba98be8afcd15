/** Writes packages/client/src/names.ts from the activation and loss tables (npm run client:names). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { clientNamesSource } from './client-names.js';

const target = fileURLToPath(new URL('../packages/client/src/names.ts', import.meta.url));
writeFileSync(target, clientNamesSource());
process.stdout.write(`wrote ${target}\n`);
