// Pool thread entry when the service runs from its TypeScript sources (tsx, vitest): registers tsx's loader
// in this thread, then starts thread.ts (which imports the .ts handler). Built code starts dist/workers/thread.js.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
