/** Writes packages/client/src/schema-types.ts from the TypeBox schemas (npm run client:types). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { clientTypesSource } from './client-types.js';

const target = fileURLToPath(new URL('../packages/client/src/schema-types.ts', import.meta.url));
writeFileSync(target, clientTypesSource());
process.stdout.write(`wrote ${target}\n`);
