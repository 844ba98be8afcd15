/**
 * Response examples for the OpenAPI document, by operationId: the exact 200 reply to the operation's request
 * example (the `examples` of its body schema, with its path parameters' examples). docs.ts puts each on the
 * operation's application/json 200 response. test/routes/openapi-lint.test.ts sends every request example
 * and compares the reply with the example here, so an example can only be a real output; a POST without an
 * entry fails that test too.
 */
const sigmoidForward = [0.11920292202211756, 0.5, 0.8807970779778824];
const softmax123 = [0.09003057317038046, 0.24472847105479764, 0.6652409557748218];
const softmaxJacobianRow0 = [0.08192506906499324, -0.022033044520174298, -0.05989202454481893];
const logSoftmax123 = [-2.40760596444438, -1.4076059644443804, -0.4076059644443803];
const v2SigmoidInfer = {
  model_name: 'sigmoid',
  model_version: '1',
  id: '42',
  outputs: [{ name: 'a', shape: [1, 3], datatype: 'FP64', data: sigmoidForward }],
};

export const replyExamples: Readonly<Record<string, unknown>> = {
  healthz: { status: 'ok' },
  readyz: { status: 'ready' },
  activationForward: { a: sigmoidForward },
  activationDerivative: {
    derivative: [0.4199743416140261, 1, 0.4199743416140261],
    a: [-0.7615941559557649, 0, 0.7615941559557649],
  },
  activationSecondDerivative: {
    secondDerivative: [0.6397000084492245, 0, -0.6397000084492245],
    derivative: [0.4199743416140261, 1, 0.4199743416140261],
    a: [-0.7615941559557649, 0, 0.7615941559557649],
  },
  softmaxJacobian: {
    a: softmax123,
    jacobian: [
      softmaxJacobianRow0,
      [-0.022033044520174298, 0.1848364465099787, -0.1628034019898044],
      [-0.05989202454481893, -0.1628034019898044, 0.22269542653462332],
    ],
  },
  softmaxVjp: { a: softmax123, gradient: softmaxJacobianRow0 },
  activationJacobian: {
    a: logSoftmax123,
    jacobian: [
      [0.9099694268296196, -0.24472847105479764, -0.6652409557748218],
      [-0.09003057317038046, 0.7552715289452023, -0.6652409557748218],
      [-0.09003057317038046, -0.24472847105479764, 0.3347590442251781],
    ],
  },
  activationVjp: {
    a: logSoftmax123,
    gradient: [0.9099694268296196, -0.24472847105479764, -0.6652409557748219],
  },
  outputLayerGradients: {
    loss: 0.23854700614710933,
    z: [-0.25, -0.4],
    a: [0.4378234991142019, 0.401312339887548],
    delta: [-0.13837079738215857, 0.0964196020566603],
    weightGradient: [
      [-0.06918539869107929, 0.04820980102833015],
      [0.13837079738215857, -0.0964196020566603],
    ],
    biasGradient: [-0.13837079738215857, 0.0964196020566603],
    inputGradient: [-0.03312100014954792, -0.0029433983919834456],
  },
  networkGradients: {
    loss: 0.1847828317178667,
    layers: [
      {
        z: [-0.35000000000000003, -0.5, 0.65],
        a: [0.4133824210826699, 0.37754066879814546, 0.6570104626734988],
        delta: [-0.03812553843748276, -0.016011436485515992, 0.012033933761452894],
        weightGradient: [
          [-0.01906276921874138, -0.008005718242757996, 0.006016966880726447],
          [0.03812553843748276, 0.016011436485515992, -0.012033933761452894],
        ],
        biasGradient: [-0.03812553843748276, -0.016011436485515992, 0.012033933761452894],
      },
      {
        z: [0.4977522041415, -0.09584873118427181],
        a: [0.621930945608003, 0.47605614537244934],
        delta: [-0.08889645217780194, 0.11874110946348493],
        weightGradient: [
          [-0.03674823062691955, 0.04908548731205773],
          [-0.0335620260089897, 0.0448295978806779],
          [-0.058405899175370216, 0.0780141512669688],
        ],
        biasGradient: [-0.08889645217780194, 0.11874110946348493],
      },
    ],
    inputGradient: [0.0029999135817907908, -0.030476293874622834],
  },
  networkHessianVector: {
    loss: 0.1847828317178667,
    directionalDerivative: -0.01906276921874138,
    layers: [
      {
        weightGradient: [
          [-0.01906276921874138, -0.008005718242757996, 0.006016966880726447],
          [0.03812553843748276, 0.016011436485515992, -0.012033933761452894],
        ],
        biasGradient: [-0.03812553843748276, -0.016011436485515992, 0.012033933761452894],
        weightProduct: [
          [-0.00045788187312208704, 0.0006134241170238139, -0.00036983487719505063],
          [0.0009157637462441741, -0.0012268482340476279, 0.0007396697543901013],
        ],
        biasProduct: [-0.0009157637462441741, 0.0012268482340476279, -0.0007396697543901013],
      },
      {
        weightGradient: [
          [-0.03674823062691955, 0.04908548731205773],
          [-0.0335620260089897, 0.0448295978806779],
          [-0.058405899175370216, 0.0780141512669688],
        ],
        biasGradient: [-0.08889645217780194, 0.11874110946348493],
        weightProduct: [
          [-0.008078194930962722, 0.011674576906310354],
          [0.0024662510317712792, -0.002486566257823362],
          [0.004291862745836724, -0.004327216065812252],
        ],
        biasProduct: [0.006532411566738724, -0.0065862209381019575],
      },
    ],
  },
  checkGradients: {
    passed: false,
    rtol: 0.001,
    atol: 0,
    checks: [
      {
        path: '/layers/1/weightGradient',
        passed: false,
        mismatches: 1,
        maxAbsError: 0.15602415126696878,
        maxRelError: 1.9999467882826205,
        normwiseRelError: 1.9999467882826205,
        worst: { index: [2, 1], expected: 0.0780141512669688, got: -0.07801 },
      },
      {
        path: '/layers/1/biasGradient',
        passed: true,
        mismatches: 0,
        maxAbsError: 0.0000411094634849285,
        maxRelError: 0.0003462108756661939,
        normwiseRelError: 0.0003462108756661939,
        worst: { index: [1], expected: 0.11874110946348493, got: 0.1187 },
      },
    ],
  },
  v2ServerMetadata: {
    name: 'gradient-service',
    version: '1.0.0',
    extensions: ['binary_tensor_data', 'statistics', 'model_repository'],
  },
  v2ModelInfer: v2SigmoidInfer,
  v2ModelVersionInfer: v2SigmoidInfer,
};
