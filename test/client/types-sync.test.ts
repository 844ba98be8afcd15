/**
 * The client package's plain types (packages/client/src/schema-types.ts) are generated from the service's
 * schemas (scripts/client-types.ts); each pair below must be the same type (assignable both ways, and no
 * field on one side only), so `npm run typecheck` fails when the generator maps a schema wrongly. Names,
 * losses, reductions and curvatures are also compared as values.
 */
import { readFileSync } from 'node:fs';
import type { Static } from 'typebox';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as client from '../../packages/client/src/types.js';
import { clientNamesSource } from '../../scripts/client-names.js';
import { clientTypesSource } from '../../scripts/client-types.js';
import { activationNames, activations } from '../../src/core/activations/index.js';
import { curvatures, losses, reductions } from '../../src/core/losses.js';
import type {
  ActivationInfo,
  DerivativeBody,
  DerivativeReply,
  ForwardBody,
  ForwardReply,
  SecondDerivativeBody,
  SecondDerivativeReply,
  VectorJacobianBody,
  VectorJacobianReply,
  VectorVjpBody,
  VectorVjpReply,
} from '../../src/schemas/activations.js';
import type { Problem } from '../../src/schemas/common.js';
import type {
  CheckBody,
  CheckReply,
  HessianVectorBody,
  HessianVectorReply,
  NetworkBody,
  NetworkReply,
} from '../../src/schemas/network.js';
import type { OutputLayerBody, OutputLayerReply } from '../../src/schemas/output-layer.js';
import type { JacobianBody, JacobianReply, VjpBody, VjpReply } from '../../src/schemas/softmax.js';

/**
 * true when A and B are the same type: stricter than assignability both ways, which an optional field
 * present on one side only would pass.
 */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** The schema types name activations as `string`; the client narrows them to the table's names. */
type WithNames<T> = { [K in keyof T]: K extends 'activation' ? client.ActivationName : T[K] };

/** The same inside a network's layers. */
type WithLayerNames<T> = {
  [K in keyof T]: K extends 'layers' ? (T[K] extends (infer L)[] ? WithNames<L>[] : T[K]) : T[K];
};

// Each line fails to compile when its two sides drift apart.
const inSync: {
  forwardRequest: Same<client.ForwardRequest, Static<typeof ForwardBody>>;
  forwardResponse: Same<client.ForwardResponse, Static<typeof ForwardReply>>;
  derivativeRequest: Same<client.DerivativeRequest, Static<typeof DerivativeBody>>;
  derivativeResponse: Same<client.DerivativeResponse, Static<typeof DerivativeReply>>;
  secondDerivativeRequest: Same<client.SecondDerivativeRequest, Static<typeof SecondDerivativeBody>>;
  secondDerivativeResponse: Same<client.SecondDerivativeResponse, Static<typeof SecondDerivativeReply>>;
  activationJacobianRequest: Same<client.ActivationJacobianRequest, Static<typeof VectorJacobianBody>>;
  activationJacobianResponse: Same<client.JacobianResponse, Static<typeof VectorJacobianReply>>;
  activationVjpRequest: Same<client.ActivationVjpRequest, Static<typeof VectorVjpBody>>;
  activationVjpResponse: Same<client.VjpResponse, Static<typeof VectorVjpReply>>;
  jacobianRequest: Same<client.JacobianRequest, Static<typeof JacobianBody>>;
  jacobianResponse: Same<client.JacobianResponse, Static<typeof JacobianReply>>;
  vjpRequest: Same<client.VjpRequest, Static<typeof VjpBody>>;
  vjpResponse: Same<client.VjpResponse, Static<typeof VjpReply>>;
  outputLayerRequest: Same<client.OutputLayerRequest, WithNames<Static<typeof OutputLayerBody>>>;
  outputLayerResponse: Same<client.OutputLayerResponse, Static<typeof OutputLayerReply>>;
  networkRequest: Same<client.NetworkRequest, WithLayerNames<Static<typeof NetworkBody>>>;
  networkResponse: Same<client.NetworkResponse, Static<typeof NetworkReply>>;
  hessianVectorRequest: Same<client.HessianVectorRequest, WithLayerNames<Static<typeof HessianVectorBody>>>;
  hessianVectorResponse: Same<client.HessianVectorResponse, Static<typeof HessianVectorReply>>;
  checkRequest: Same<client.CheckRequest, WithLayerNames<Static<typeof CheckBody>>>;
  checkResponse: Same<client.CheckResponse, Static<typeof CheckReply>>;
  activationInfo: Same<client.ActivationInfo, Static<typeof ActivationInfo>>;
  problem: Same<client.ProblemDetails, Static<typeof Problem>>;
  loss: Same<client.Loss, (typeof losses)[number]>;
  reduction: Same<client.Reduction, (typeof reductions)[number]>;
  curvature: Same<client.Curvature, (typeof curvatures)[number]>;
} = {
  forwardRequest: true,
  forwardResponse: true,
  derivativeRequest: true,
  derivativeResponse: true,
  secondDerivativeRequest: true,
  secondDerivativeResponse: true,
  activationJacobianRequest: true,
  activationJacobianResponse: true,
  activationVjpRequest: true,
  activationVjpResponse: true,
  jacobianRequest: true,
  jacobianResponse: true,
  vjpRequest: true,
  vjpResponse: true,
  outputLayerRequest: true,
  outputLayerResponse: true,
  networkRequest: true,
  networkResponse: true,
  hessianVectorRequest: true,
  hessianVectorResponse: true,
  checkRequest: true,
  checkResponse: true,
  activationInfo: true,
  problem: true,
  loss: true,
  reduction: true,
  curvature: true,
};

describe('the client package types', () => {
  it('are the schema types (checked at compile time, both ways)', () => {
    expect(Object.values(inSync).every((v) => v === true)).toBe(true);
    // The Same check itself tells drift from agreement, an extra optional field included.
    expectTypeOf<Same<{ a: number[] }, { a: number[] | number[][] }>>().toEqualTypeOf<false>();
    expectTypeOf<Same<{ a: number[] }, { a: number[]; b?: number }>>().toEqualTypeOf<false>();
    expectTypeOf<Same<{ a: number[] }, { a: number[] }>>().toEqualTypeOf<true>();
  });

  it('name every activation and alias of the table, and nothing else', () => {
    expect([...client.activationNames]).toEqual(activationNames);
  });

  it('name the vector activations (and their aliases) as the table has them', () => {
    const vector = activations.filter((e) => e.kind === 'vector').flatMap((e) => [e.name, ...e.aliases]);
    expect([...client.vectorActivationNames]).toEqual(vector);
  });

  it('name the losses, reductions and curvatures of the losses table', () => {
    expect([...client.losses]).toEqual([...losses]);
    expect([...client.reductions]).toEqual([...reductions]);
    expect([...client.curvatures]).toEqual([...curvatures]);
  });

  it('are schema-types.ts, which is what `npm run client:types` writes from the schemas', () => {
    const committed = readFileSync(
      new URL('../../packages/client/src/schema-types.ts', import.meta.url),
      'utf8',
    );
    expect(committed, 'packages/client/src/schema-types.ts is stale: run `npm run client:types`').toBe(
      clientTypesSource(),
    );
  });

  it('take their names from names.ts, which is what `npm run client:names` writes from the tables', () => {
    const committed = readFileSync(new URL('../../packages/client/src/names.ts', import.meta.url), 'utf8');
    expect(committed, 'packages/client/src/names.ts is stale: run `npm run client:names`').toBe(
      clientNamesSource(),
    );
  });
});
