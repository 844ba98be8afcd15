/**
 * The request and reply types of gradient-service, as plain TypeScript: a consumer's compiler reads these
 * small files, not the service's TypeBox schemas. names.ts (activations, losses, reductions, curvatures) and
 * schema-types.ts (every request and reply) are generated from the service's tables and schemas
 * (`npm run client:names`, `npm run client:types`); tensor.ts holds the generic tensor shapes.
 */
export * from './names.js';
export * from './schema-types.js';
export * from './tensor.js';
