/** Schemas of POST /v1/gradients/network and POST /v1/gradients/check. */
import { Type } from 'typebox';
import { type Curvature, curvatures } from '../core/losses.js';
import { ParamsField } from './activations.js';
import { activationNameRef, matrixRef, tensorRef } from './common.js';
import { OutputLayerBody } from './output-layer.js';
import { computeErrorResponses } from './responses.js';

/** The most layers a request may have: far beyond any dense stack, and a bound on per-layer work. */
export const MAX_LAYERS = 1024;

const vector = (description: string, item: string) =>
  Type.Array(Type.Number({ description: item }), { minItems: 1, description });

export const LayerSpec = Type.Object(
  {
    weights: matrixRef(
      'weights[j][k] of this layer, from input j to output k: M_l x K_l, with M_l the previous layer’s K (M_1: the columns of x).',
    ),
    bias: Type.Optional(vector('Bias b_l, length K_l; zeros when omitted.', 'b[k].')),
    activation: activationNameRef(
      'The activation g_l of this layer; a hidden softmax or log_softmax backpropagates through its Jacobian.',
      'sigmoid',
    ),
    params: Type.Optional(ParamsField),
  },
  { additionalProperties: false, description: 'One dense layer: z_l = h_(l-1) W_l + b_l, h_l = g_l(z_l).' },
);

/** The seed's case one layer deeper: the request example of the network and check routes. */
export const seedTwoLayerExample = {
  x: [0.5, -1],
  layers: [
    {
      weights: [
        [0.1, -0.2, 0.3],
        [0.4, 0.5, -0.6],
      ],
      bias: [0, 0.1, -0.1],
      activation: 'sigmoid',
    },
    {
      weights: [
        [0.7, -0.8],
        [0.9, 0.1],
        [-0.2, 0.3],
      ],
      activation: 'sigmoid',
    },
  ],
  targets: [1, 0],
};

const networkFields = {
  x: tensorRef('Inputs x: [M_1] for one sample or [N][M_1] for a batch.'),
  layers: Type.Array(LayerSpec, {
    minItems: 1,
    maxItems: MAX_LAYERS,
    description: `The dense layers, first to last (at least one, at most ${MAX_LAYERS}).`,
  }),
  targets: tensorRef('Targets t of the last layer: [K_L] or [N][K_L], the same N (and batch form) as x.'),
  loss: OutputLayerBody.properties.loss,
  reduction: OutputLayerBody.properties.reduction,
  intermediates: Type.Optional(
    Type.Boolean({
      default: true,
      description: 'Whether each layer of the reply carries z, a and delta (false: only the gradients).',
    }),
  ),
};

export const DirectionLayer = Type.Object(
  {
    weights: matrixRef('The direction for W_l: M_l x K_l, the shape of the layer’s weights.'),
    bias: Type.Optional(vector('The direction for b_l, length K_l; zeros when omitted.', 'v_b[k].')),
  },
  { additionalProperties: false, description: 'One layer’s part of the direction v.' },
);

/** The fields a curvature product adds to the network body (the hessian-vector route, and the check). */
const directionFields = {
  vector: Type.Object(
    {
      layers: Type.Array(DirectionLayer, {
        minItems: 1,
        maxItems: MAX_LAYERS,
        description: 'One entry per layer of the network, first to last.',
      }),
    },
    {
      additionalProperties: false,
      description: 'A direction v in parameter space: per layer, the shape of its weights and bias.',
    },
  ),
  curvature: Type.Optional(
    Type.Unsafe<Curvature>({
      type: 'string',
      enum: [...curvatures],
      default: 'hessian',
      description:
        'hessian: H v, H the Hessian of E in every weight and bias; gauss-newton: G v, G = J^T H_out J, with ' +
        'H_out the loss’s Hessian in the logits z_L where E is taken from them (softmax + cross_entropy: ' +
        'sum(t) (diag(p) - p p^T); sigmoid + binary_cross_entropy: diag(p(1-p)); sigmoid + cross_entropy: ' +
        'diag(t p(1-p))), else in a_L (squared_error: I); divided by N for mean. PSD wherever H_out is.',
    }),
  ),
};

export const NetworkBody = Type.Object(networkFields, {
  additionalProperties: false,
  description: 'A feed-forward network of dense layers and a loss on the last one (as for the output layer).',
  examples: [seedTwoLayerExample],
});

const weightGradient = Type.Array(
  Type.Array(Type.Number({ description: 'dE/dw[j][k].' }), { description: 'Row j.' }),
  { description: 'dE/dW_l, M_l x K_l.' },
);
const biasGradient = Type.Array(Type.Number({ description: 'dE/db[k].' }), {
  description: 'dE/db_l, length K_l.',
});

export const LayerGradients = Type.Object(
  {
    z: Type.Optional(tensorRef('z_l = h_(l-1) W_l + b_l: [K_l] or [N][K_l] (with intermediates).')),
    a: Type.Optional(tensorRef('a_l = g_l(z_l), the shape of z_l (with intermediates).')),
    delta: Type.Optional(
      tensorRef(
        'delta_l = dE/dz_l, the shape of z_l (with intermediates); g_l′ is taken from z_l, never from the rounded a_l.',
      ),
    ),
    weightGradient,
    biasGradient,
  },
  { description: 'One layer’s gradients (and, with intermediates, its forward pass and delta).' },
);

export const NetworkReply = Type.Object(
  {
    loss: Type.Number({ description: 'E, reduced as requested.' }),
    layers: Type.Array(LayerGradients, { description: 'Per layer, first to last.' }),
    inputGradient: tensorRef('dE/dx = delta_1 W_1^T, the shape of x.'),
  },
  { description: 'The loss and every layer’s gradients.' },
);

export const networkSchema = {
  operationId: 'networkGradients',
  tags: ['gradients'],
  summary: 'Backpropagation through a network of dense layers',
  description:
    'With h_0 = x: z_l = h_(l-1) W_l + b_l, h_l = a_l = g_l(z_l); delta_L = dE/dz_L as for the output layer; ' +
    'delta_l = (delta_(l+1) W_(l+1)^T) * g_l′(z_l) (a softmax layer: J_l^T per row); dE/dW_l = h_(l-1)^T ' +
    'delta_l, dE/db_l = column sums of delta_l, dE/dx = delta_1 W_1^T. A one-layer network gives exactly the ' +
    'output-layer numbers. Shape errors name the layer and both sizes; MAX_ELEMENTS applies to every tensor ' +
    'of the request (each layer’s weights included) and of the reply.',
  body: NetworkBody,
  response: {
    200: NetworkReply,
    ...computeErrorResponses('v1', {
      describe: {
        400: 'Invalid request, or shapes that do not agree: the detail names the layer and both sizes (`/layers/2/weights` has 5 rows but layer 1 has 4 outputs).',
        413: 'The body is larger than BODY_LIMIT bytes, or a tensor of the request (each layer’s weights included) or of the reply would hold more than MAX_ELEMENTS numbers.',
      },
    }),
  },
};

const hessianVectorExample = {
  ...seedTwoLayerExample,
  vector: {
    layers: [
      {
        weights: [
          [1, 0, 0],
          [0, 0, 0],
        ],
        bias: [0, 0, 0],
      },
      {
        weights: [
          [0, 0],
          [0, 0],
          [0, 0],
        ],
      },
    ],
  },
  curvature: 'hessian',
};

export const HessianVectorBody = Type.Object(
  { ...networkFields, ...directionFields },
  {
    additionalProperties: false,
    description:
      'A network request plus a direction in parameter space (`intermediates` is accepted and has no effect).',
    examples: [hessianVectorExample],
  },
);

const matrix = (description: string, item: string) =>
  Type.Array(Type.Array(Type.Number({ description: item }), { description: 'Row j.' }), { description });

export const LayerProducts = Type.Object(
  {
    weightGradient,
    biasGradient,
    weightProduct: matrix('(C v) for W_l, M_l x K_l.', '(C v) for w[j][k].'),
    biasProduct: Type.Array(Type.Number({ description: '(C v) for b[k].' }), {
      description: '(C v) for b_l, length K_l.',
    }),
  },
  { description: 'One layer’s gradients and curvature-vector products.' },
);

export const HessianVectorReply = Type.Object(
  {
    loss: Type.Number({ description: 'E, reduced as requested.' }),
    directionalDerivative: Type.Number({ description: 'sum over every weight and bias of dE/dθ v_θ.' }),
    layers: Type.Array(LayerProducts, { description: 'Per layer, first to last.' }),
  },
  { description: 'The loss, the directional derivative, and every layer’s gradients and products C v.' },
);

export const hessianVectorSchema = {
  operationId: 'networkHessianVector',
  tags: ['gradients'],
  summary: 'Hessian- or Gauss-Newton-vector product of a network’s loss',
  description:
    'C v, with C the Hessian of E in every weight and bias (or, with curvature gauss-newton, G = J^T H_out J), ' +
    'computed exactly by the R-operator (Pearlmutter 1994): one forward pass of directional derivatives ' +
    'R{z_l} = R{h_(l-1)} W_l + h_(l-1) V_l + Vb_l, R{a_l} = g_l′(z_l) R{z_l} (J_l R{z_l} for softmax), and one ' +
    'backward pass of R{delta_l}, with g_l″ from z_l; never a finite difference, never the matrix. Also the ' +
    'gradients (as POST /v1/gradients/network gives them) and the directional derivative. A vector whose ' +
    'entries do not have their layer’s shapes is a 400 naming the path (`/vector/layers/1/weights`).',
  body: HessianVectorBody,
  response: {
    200: HessianVectorReply,
    ...computeErrorResponses('v1', {
      describe: {
        400: 'Invalid request, network shapes that do not agree (naming the layer and both sizes), or a vector entry whose shape is not its layer’s (naming its path).',
        413: 'The body is larger than BODY_LIMIT bytes, or a tensor of the request (each layer’s weights and vector entry included) or of the reply would hold more than MAX_ELEMENTS numbers.',
      },
    }),
  },
};

const GivenLayer = Type.Union(
  [
    Type.Object(
      {
        weightGradient: Type.Optional(matrixRef('Your dE/dW_l, M_l x K_l.')),
        biasGradient: Type.Optional(vector('Your dE/db_l, length K_l.', 'dE/db[k].')),
        weightProduct: Type.Optional(matrixRef('Your (C v) for W_l, M_l x K_l (needs `vector`).')),
        biasProduct: Type.Optional(
          vector('Your (C v) for b_l, length K_l (needs `vector`).', '(C v) for b[k].'),
        ),
      },
      { additionalProperties: false, description: 'What you computed for this layer (any of the four).' },
    ),
    Type.Null({ description: 'Nothing to check for this layer.' }),
  ],
  { description: 'One layer’s gradients to check, or null.' },
);

export const GivenGradients = Type.Object(
  {
    loss: Type.Optional(Type.Number({ description: 'Your E.' })),
    layers: Type.Optional(
      Type.Array(GivenLayer, {
        maxItems: MAX_LAYERS,
        description: 'Per layer, first to last; null (or a shorter list) leaves a layer unchecked.',
      }),
    ),
    inputGradient: Type.Optional(tensorRef('Your dE/dx, the shape of x.')),
  },
  {
    additionalProperties: false,
    description: 'The gradients you computed, any subset; at least one quantity.',
  },
);

export const CheckBody = Type.Object(
  {
    ...networkFields,
    vector: Type.Optional(directionFields.vector),
    curvature: directionFields.curvature,
    gradients: GivenGradients,
    rtol: Type.Optional(
      Type.Number({ minimum: 0, default: 1e-7, description: 'Relative tolerance (allclose rtol).' }),
    ),
    atol: Type.Optional(
      Type.Number({ minimum: 0, default: 0, description: 'Absolute tolerance (allclose atol).' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'A network request plus the gradients you computed and the tolerance to check them with.',
    examples: [
      {
        ...seedTwoLayerExample,
        // Four digits of the last layer's gradients, with a sign error in weightGradient[2][1].
        gradients: {
          layers: [
            null,
            {
              weightGradient: [
                [-0.03675, 0.04909],
                [-0.03356, 0.04483],
                [-0.05841, -0.07801],
              ],
              biasGradient: [-0.0889, 0.1187],
            },
          ],
        },
        rtol: 1e-3,
      },
    ],
  },
);

export const TensorCheck = Type.Object(
  {
    path: Type.String({ description: 'The checked quantity in `gradients`, e.g. /layers/0/weightGradient.' }),
    passed: Type.Boolean({ description: 'Every entry within the tolerance.' }),
    mismatches: Type.Integer({ description: 'Entries with |got - expected| > atol + rtol |expected|.' }),
    maxAbsError: Type.Number({ description: 'max |got - expected|.' }),
    maxRelError: Type.Number({
      description: 'max |got - expected| / |expected| over the entries whose expected value is not 0.',
    }),
    normwiseRelError: Type.Number({
      description:
        'max |got - expected| / max |expected| (the max absolute error when every expected entry is 0).',
    }),
    worst: Type.Object(
      {
        index: Type.Array(Type.Integer({ description: 'One index.' }), {
          description: 'Position in the tensor ([] for the loss).',
        }),
        expected: Type.Number({ description: 'The service’s value.' }),
        got: Type.Number({ description: 'Your value.' }),
      },
      { description: 'The entry furthest outside its tolerance (relative to atol + rtol |expected|).' },
    ),
  },
  { description: 'One checked quantity.' },
);

export const CheckReply = Type.Object(
  {
    passed: Type.Boolean({ description: 'Every check passed.' }),
    rtol: Type.Number({ description: 'The relative tolerance used.' }),
    atol: Type.Number({ description: 'The absolute tolerance used.' }),
    checks: Type.Array(TensorCheck, {
      description:
        'One per given quantity: /loss, then per layer weightGradient and biasGradient, then /inputGradient.',
    }),
  },
  { description: 'The verdict: 200 whether or not the gradients agree.' },
);

export const checkSchema = {
  operationId: 'checkGradients',
  tags: ['gradients'],
  summary: 'Check gradients computed elsewhere against the service’s',
  description:
    'Computes the network’s gradients as POST /v1/gradients/network does and compares the given ones entry ' +
    'by entry: an entry agrees when |got - expected| <= atol + rtol |expected| (numpy.allclose, ' +
    'torch.allclose). With `vector` (and `curvature`) the products C v of POST ' +
    '/v1/gradients/network/hessian-vector are computed too, and given weightProduct and biasProduct are ' +
    'checked like the gradients. 200 whether or not they agree; a given gradient whose shape differs from the ' +
    'network’s is a 400 naming its path, a product without `vector` is a 400, and `gradients` with nothing in ' +
    'it is a 400.',
  body: CheckBody,
  response: {
    200: CheckReply,
    ...computeErrorResponses('v1', {
      describe: {
        400: 'Invalid request, network shapes that do not agree (naming the layer and both sizes), a given gradient whose shape differs from the network’s (naming its path), or `gradients` with nothing in it.',
      },
    }),
  },
};

/** In a binary body's JSON header a layer's weights and bias may travel as inputs (layers.<l>.weights). */
const HeaderLayer = Type.Object(
  { ...LayerSpec.properties, weights: Type.Optional(LayerSpec.properties.weights) },
  {
    additionalProperties: false,
    description:
      'One dense layer; its weights (and bias) inline or as the inputs layers.<l>.weights (layers.<l>.bias).',
  },
);

const headerNetworkFields = {
  ...networkFields,
  layers: Type.Array(HeaderLayer, {
    minItems: 1,
    maxItems: MAX_LAYERS,
    description: `The dense layers, first to last (at least one, at most ${MAX_LAYERS}).`,
  }),
};

export const NetworkHeader = Type.Object(headerNetworkFields, { additionalProperties: false });

/** In a binary body's JSON header the vector's entries may travel as inputs (vector.layers.<l>.weights). */
const headerDirection = Type.Object(
  {
    layers: Type.Array(
      Type.Object(
        { weights: Type.Optional(DirectionLayer.properties.weights), bias: DirectionLayer.properties.bias },
        {
          additionalProperties: false,
          description:
            'One layer’s direction; inline or as the inputs vector.layers.<l>.weights (vector.layers.<l>.bias).',
        },
      ),
      {
        maxItems: MAX_LAYERS,
        description: 'Per layer, first to last (entries may be {} when sent as inputs).',
      },
    ),
  },
  { additionalProperties: false, description: 'The direction v; its tensors inline or as inputs.' },
);

export const HessianVectorHeader = Type.Object(
  { ...headerNetworkFields, vector: Type.Optional(headerDirection), curvature: directionFields.curvature },
  { additionalProperties: false },
);

export const CheckHeader = Type.Object(
  {
    ...headerNetworkFields,
    vector: Type.Optional(headerDirection),
    curvature: directionFields.curvature,
    gradients: Type.Optional(CheckBody.properties.gradients),
    rtol: CheckBody.properties.rtol,
    atol: CheckBody.properties.atol,
  },
  { additionalProperties: false },
);

export const networkInputPattern = {
  pattern: '^(x|targets|layers\\.[0-9]+\\.(weights|bias))$',
  text: 'x, targets, layers.<l>.weights and layers.<l>.bias (l from 0)',
};

export const hessianVectorInputPattern = {
  pattern: '^(x|targets|(vector\\.)?layers\\.[0-9]+\\.(weights|bias))$',
  text: 'x, targets, layers.<l>.weights, layers.<l>.bias, vector.layers.<l>.weights and vector.layers.<l>.bias (l from 0)',
};

export const checkInputPattern = {
  pattern:
    '^(x|targets|(vector\\.)?layers\\.[0-9]+\\.(weights|bias)|gradients\\.layers\\.[0-9]+\\.(weightGradient|biasGradient|weightProduct|biasProduct)|gradients\\.inputGradient)$',
  text: 'x, targets, layers.<l>.weights, layers.<l>.bias, vector.layers.<l>.weights, vector.layers.<l>.bias, gradients.layers.<l>.weightGradient, .biasGradient, .weightProduct, .biasProduct and gradients.inputGradient',
};

export const hessianVectorOutputPattern = {
  pattern: '^layers\\.[0-9]+\\.(weightGradient|biasGradient|weightProduct|biasProduct)$',
  text: 'layers.<l>.weightGradient, layers.<l>.biasGradient, layers.<l>.weightProduct, layers.<l>.biasProduct',
};

export const networkOutputPattern = {
  pattern: '^(layers\\.[0-9]+\\.(z|a|delta|weightGradient|biasGradient)|inputGradient)$',
  text: 'layers.<l>.z, .a, .delta (with intermediates), layers.<l>.weightGradient, layers.<l>.biasGradient, inputGradient',
};
