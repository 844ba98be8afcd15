// Worker entry when the service runs from its TypeScript sources (tsx, vitest): registers tsx's loader in
// this thread, then loads the worker. Built code (dist/) uses dist/workers/worker.js directly.
import { register } from 'tsx/esm/api';

register();
const { default: handle } = await import('./worker.ts');
export default handle;
