/** Activations built on exp/log: sigmoid, tanh, the ELU family, softplus, logsigmoid, tanhshrink. */
import {
  divideOnce,
  logistic,
  logisticDerivative,
  logisticSecondDerivative,
  multiplyOnce,
  productLow,
  quotientLow,
  scaledExp,
  sech2,
  tanhDeficit,
  tanh as tanhKernel,
  tanhSecondDerivative,
  tanhSquared,
} from '../numeric/elementary.js';
import { logisticFast } from '../numeric/logistic.js';
import { alphaMustNotBeNegative, outputsWithin } from './piecewise.js';
import type { ElementwiseActivation, ParamSpec } from './types.js';

/** log sigma(z) = min(z, 0) - log(1 + e^-|z|): two terms of the same sign, finite for every z. */
function logLogistic(z: number): number {
  const e = Math.exp(-Math.abs(z));
  return z < 0 ? z - Math.log1p(e) : -Math.log1p(e);
}

const zero = () => 0;
const one = () => 1;
const minusOne = () => -1;
const infinity = () => Number.POSITIVE_INFINITY;

export const sigmoid: ElementwiseActivation = {
  name: 'sigmoid',
  aliases: ['logistic'],
  kind: 'elementwise',
  description:
    'The logistic function, the inverse of the logit: squashes z into (0, 1). The usual output for ' +
    'independent probabilities (with binary cross-entropy).',
  params: [],
  formula: 'g(z) = \\sigma(z) = \\frac{1}{1 + e^{-z}}',
  derivativeFormula: "g'(z) = \\sigma(z)\\,\\sigma(-z) = \\frac{e^{-|z|}}{(1 + e^{-|z|})^2} = a(1 - a)",
  // Table-driven and within 1 ulp (numeric/logistic.ts); the exact kernel serves the log forms below.
  forward: logisticFast,
  derivative: (z) => logisticDerivative(z),
  // 1 - a is exact for a >= 1/2 and within half an ulp of 1 below, so the product keeps its precision.
  derivativeFromOutput: (a) => a * (1 - a),
  outputCheck: outputsWithin(zero, one),
  secondDerivativeFormula: "g''(z) = -\\sigma'(z) \\tanh\\frac{z}{2} = a(1 - a)(1 - 2a)",
  secondDerivative: (z) => logisticSecondDerivative(z),
  // 1 - a is exact for a >= 1/2, 1 - 2a for a >= 1/4, each within half an ulp otherwise (no cancellation: both
  // are >= 1/2 there): three factors with at most five roundings in all, no cancellation, ~2.5 ulp at worst.
  secondDerivativeFromOutput: (a) => a * (1 - a) * (1 - 2 * a),
  // Cross-entropy from the logits: log sigma(z) and log(1 - sigma(z)) = log sigma(-z) stay finite and
  // accurate where sigma(z) rounds to 0 or 1.
  // (log sigma)'' = (log sigma(-z))'' = -sigma(z) sigma(-z): g' itself, never a difference of rounded terms.
  logForm: {
    forward: (z) => logLogistic(z),
    derivative: (z) => logistic(-z),
    secondDerivative: (z) => -logisticDerivative(z),
  },
  logComplementForm: {
    forward: (z) => logLogistic(-z),
    derivative: (z) => -logistic(z),
    secondDerivative: (z) => -logisticDerivative(z),
  },
};

export const tanh: ElementwiseActivation = {
  name: 'tanh',
  aliases: [],
  kind: 'elementwise',
  description: 'The hyperbolic tangent: an odd, zero-centred squashing of z into (-1, 1).',
  params: [],
  formula: 'g(z) = \\tanh z = \\frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}',
  derivativeFormula: "g'(z) = \\operatorname{sech}^2 z = \\frac{4e^{-2|z|}}{(1 + e^{-2|z|})^2} = 1 - a^2",
  forward: (z) => tanhKernel(z),
  derivative: (z) => sech2(z),
  // (1 - a)(1 + a): both factors exact for |a| >= 1/2, unlike 1 - a*a.
  derivativeFromOutput: (a) => (1 - a) * (1 + a),
  outputCheck: outputsWithin(minusOne, one),
  secondDerivativeFormula: "g''(z) = -2 \\tanh z \\operatorname{sech}^2 z = -2a(1 - a^2)",
  secondDerivative: (z) => tanhSecondDerivative(z),
  // 1 - a^2 as (1 - a)(1 + a): both factors exact or within half an ulp, where 1 - a*a loses 5e4 ulp at
  // a = 0.999999 (a*a's rounding is then most of the difference).
  secondDerivativeFromOutput: (a) => -2 * a * ((1 - a) * (1 + a)),
};

const eluAlpha: ParamSpec = {
  name: 'alpha',
  default: 1,
  description: 'The value g tends to as z goes to -infinity is -alpha; also the slope just left of 0.',
};

export const elu: ElementwiseActivation = {
  name: 'elu',
  aliases: [],
  kind: 'elementwise',
  description:
    'Exponential linear unit: the identity for z > 0, alpha (e^z - 1) below, saturating smoothly at -alpha.',
  params: [eluAlpha],
  formula: 'g(z) = \\begin{cases} z & z > 0 \\\\ \\alpha\\,(e^{z} - 1) & z \\le 0 \\end{cases}',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & z > 0 \\\\ \\alpha e^{z} = a + \\alpha & z \\le 0 \\end{cases}",
  // expm1 keeps the relative precision of alpha (e^z - 1) for small |z| (e^z - 1 would cancel).
  forward: (z, { alpha }) => (z > 0 ? z : alpha * Math.expm1(z)),
  // At z = 0, PyTorch takes the left branch: g'(0) = alpha.
  derivative: (z, { alpha }) => (z > 0 ? 1 : scaledExp(alpha, z)),
  derivativeFromOutput: (a, { alpha }) => (a > 0 ? 1 : a + alpha),
  outputCheck: (a, params) =>
    alphaMustNotBeNegative(a, params) ?? outputsWithin(({ alpha }) => -alpha, infinity)(a, params),
  secondDerivativeFormula:
    "g''(z) = \\begin{cases} 0 & z \\ge 0 \\\\ \\alpha e^{z} = a + \\alpha & z < 0 \\end{cases}",
  // g'' = g' on the exponential piece; 0 at z = 0, where g' jumps (alpha != 1) or only g'' does (alpha = 1).
  secondDerivative: (z, { alpha }) => (z < 0 ? scaledExp(alpha, z) : 0),
  // a = 0 only at z = 0 (alpha > 0): 0 there as from z. alpha = 0 makes every z <= 0 give a = 0, where g'' = 0.
  secondDerivativeFromOutput: (a, { alpha }) => (a < 0 ? a + alpha : 0),
  secondDerivativeNote:
    "With alpha = 1, g' is continuous at z = 0 but g'' jumps from alpha (left) to 0 (right): g''(0) is 0 " +
    "(PyTorch's double backward). With alpha != 1, g' jumps at 0 and g''(0) is 0.",
};

// PyTorch's SELU constants, as decimals (the exact values the golden reference uses).
const SELU_SCALE = 1.0507009873554805; // 1.0507009873554804934193349852946
const SELU_SCALE_ALPHA = 1.7580993408473768; // scale * alpha (1.6732632423543772848170429916717), rounded
// PyTorch's g'(0) is the product of the two rounded constants, one ulp below the rounded exact product.
const SELU_KINK_DERIVATIVE = 1.7580993408473766;

export const selu: ElementwiseActivation = {
  name: 'selu',
  aliases: [],
  kind: 'elementwise',
  description:
    'Scaled ELU: lambda times ELU with alpha, using the self-normalising constants (PyTorch: ' +
    'alpha = 1.6732632423543772848, lambda = 1.0507009873554804934), which keep activations near ' +
    'zero mean and unit variance.',
  params: [],
  formula:
    'g(z) = \\lambda \\begin{cases} z & z > 0 \\\\ \\alpha\\,(e^{z} - 1) & z \\le 0 \\end{cases},\\ ' +
    '\\lambda = 1.0507009873554804934,\\ \\alpha = 1.6732632423543772848',
  derivativeFormula:
    "g'(z) = \\begin{cases} \\lambda & z > 0 \\\\ \\lambda\\alpha e^{z} = a + \\lambda\\alpha & z \\le 0 \\end{cases}",
  forward: (z) => (z > 0 ? SELU_SCALE * z : SELU_SCALE_ALPHA * Math.expm1(z)),
  derivative: (z) => {
    if (z > 0) return SELU_SCALE;
    if (z === 0) return SELU_KINK_DERIVATIVE;
    return scaledExp(SELU_SCALE_ALPHA, z);
  },
  derivativeFromOutput: (a) => {
    if (a > 0) return SELU_SCALE;
    if (a === 0) return SELU_KINK_DERIVATIVE;
    return a + SELU_SCALE_ALPHA;
  },
  outputCheck: outputsWithin(() => -SELU_SCALE_ALPHA, infinity),
  secondDerivativeFormula:
    "g''(z) = \\begin{cases} 0 & z \\ge 0 \\\\ \\lambda\\alpha e^{z} = a + \\lambda\\alpha & z < 0 \\end{cases}",
  // g' jumps at 0 (lambda to lambda alpha): g''(0) = 0.
  secondDerivative: (z) => (z < 0 ? scaledExp(SELU_SCALE_ALPHA, z) : 0),
  secondDerivativeFromOutput: (a) => (a < 0 ? a + SELU_SCALE_ALPHA : 0),
};

export const celu: ElementwiseActivation = {
  name: 'celu',
  aliases: [],
  kind: 'elementwise',
  description:
    'Continuously differentiable ELU: alpha (e^(z/alpha) - 1) for z <= 0, the identity above; its ' +
    'slope is 1 on both sides of 0 for every alpha.',
  params: [
    {
      name: 'alpha',
      default: 1,
      exclusiveMinimum: 0,
      description:
        'The value g tends to as z goes to -infinity is -alpha; also the scale of z in the exponent.',
    },
  ],
  formula: 'g(z) = \\begin{cases} z & z > 0 \\\\ \\alpha\\,(e^{z/\\alpha} - 1) & z \\le 0 \\end{cases}',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & z > 0 \\\\ e^{z/\\alpha} = 1 + a/\\alpha & z \\le 0 \\end{cases}",
  forward: (z, { alpha }) => {
    if (z > 0) return z;
    const u = z / alpha;
    // alpha expm1(u) = z (1 + u/2 + ...) rounds to z; alpha * u would not when u is subnormal.
    if (u > -(2 ** -54)) return z;
    const m = Math.expm1(u);
    if (alpha === 1) return m;
    // expm1(u + uLo) = m + (1 + m) uLo: carry the rounding of z / alpha, and multiply by alpha once.
    return multiplyOnce(alpha, m, (1 + m) * quotientLow(z, alpha, u));
  },
  derivative: (z, { alpha }) => {
    if (z > 0) return 1;
    const u = z / alpha;
    // exp(u) amplifies the rounding of z/alpha by |u|: carry the quotient's low part.
    return scaledExp(1, u, alpha === 1 ? 0 : quotientLow(z, alpha, u));
  },
  derivativeFromOutput: (a, { alpha }) => (a > 0 ? 1 : 1 + a / alpha),
  outputCheck: outputsWithin(({ alpha }) => -alpha, infinity),
  secondDerivativeFormula:
    "g''(z) = \\begin{cases} 0 & z \\ge 0 \\\\ e^{z/\\alpha} / \\alpha = (1 + a/\\alpha) / \\alpha & z < 0 \\end{cases}",
  secondDerivative: (z, { alpha }) => {
    if (!(z < 0)) return 0;
    const u = z / alpha;
    // As for g': carry the rounding of z/alpha, which e^u amplifies by |u|, and divide by alpha once.
    return expOver(u, alpha === 1 ? 0 : quotientLow(z, alpha, u), alpha);
  },
  secondDerivativeFromOutput: (a, { alpha }) => (a < 0 ? (1 + a / alpha) / alpha : 0),
  secondDerivativeNote:
    "g' is continuous at z = 0 for every alpha but g'' jumps from 1/alpha (left) to 0 (right): g''(0) is 0 " +
    "(PyTorch's double backward).",
};

/** e^(x + xLo) / beta, rounded into the subnormal range only once (see scaledExp). */
function expOver(x: number, xLo: number, beta: number): number {
  if (x >= -708.39) {
    const e = Math.exp(x);
    return divideOnce(e, e * xLo, beta);
  }
  const half = Math.exp(x / 2);
  return ((half + half * xLo) / beta) * half;
}

export const softplus: ElementwiseActivation = {
  name: 'softplus',
  aliases: [],
  kind: 'elementwise',
  description:
    'A smooth ReLU: log(1 + e^(beta z)) / beta, computed exactly for every z (no switch to the ' +
    'identity for large beta z as in PyTorch). Its derivative is the logistic function of beta z.',
  params: [
    {
      name: 'beta',
      default: 1,
      exclusiveMinimum: 0,
      description: 'Sharpness: larger beta brings g closer to ReLU.',
    },
  ],
  formula: 'g(z) = \\frac{1}{\\beta} \\log\\left(1 + e^{\\beta z}\\right)',
  derivativeFormula: "g'(z) = \\sigma(\\beta z) = \\frac{1}{1 + e^{-\\beta z}} = 1 - e^{-\\beta a}",
  forward: (z, { beta }) => {
    const x = beta * z;
    // e^x amplifies the rounding of beta z by |x|: carry the product's low part.
    const xLo = beta === 1 ? 0 : productLow(beta, z, x);
    // log(1 + e^x) = x + log(1 + e^-x), and x / beta is z: no overflow of e^x, nor of beta z.
    if (x > 0) {
      const e = Math.exp(-x);
      const l = Math.log1p(e);
      if (beta === 1 || x > 2 ** 11) return z + l / beta;
      // (x + xLo + log1p(e (1 - xLo))) / beta, with the sum kept in double-double and divided once.
      const sum = x + l;
      const lPart = sum - x; // Knuth's two-sum: l may exceed x (x < log 2)
      const sumLo = x - (sum - lPart) + (l - lPart) + xLo - (e * xLo) / (1 + e);
      return divideOnce(sum, sumLo, beta);
    }
    // Below x = -37, log(1 + E) = E to within half an ulp, and E may be subnormal.
    if (x < -37) return expOver(x, xLo, beta);
    const e = Math.exp(x);
    const l = Math.log1p(e);
    if (beta === 1) return l;
    // log1p(e (1 + xLo)) = l + e xLo / (1 + e), divided by beta once.
    return divideOnce(l, (e * xLo) / (1 + e), beta);
  },
  derivative: (z, { beta }) => {
    const x = beta * z;
    return logistic(x, beta === 1 ? 0 : productLow(beta, z, x));
  },
  // e^(beta a) = 1 + e^(beta z), so sigma(beta z) = 1 - e^(-beta a); expm1 keeps it accurate for small a.
  derivativeFromOutput: (a, { beta }) => -Math.expm1(-beta * a),
  outputCheck: outputsWithin(zero, infinity),
  secondDerivativeFormula:
    "g''(z) = \\beta\\,\\sigma(\\beta z)\\,\\sigma(-\\beta z) = \\beta\\,e^{-\\beta a}\\left(1 - e^{-\\beta a}\\right)",
  secondDerivative: (z, { beta }) => {
    const x = beta * z;
    const xLo = beta === 1 ? 0 : productLow(beta, z, x);
    // beta sigma'(x + xLo): past |x| = 40, (1 + E)^-2 is 1 to 2^-56 and g'' = beta e^-|x| is rounded once
    // (also into the subnormal range, where beta * sigma'(x) would round twice).
    if (Math.abs(x) > 40) return scaledExp(beta, -Math.abs(x), x < 0 ? xLo : -xLo);
    return beta * logisticDerivative(x, xLo);
  },
  // e^(-beta a) = sigma(-beta z): its complement from expm1, so neither factor cancels.
  secondDerivativeFromOutput: (a, { beta }) => {
    const x = -beta * a;
    return beta * Math.exp(x) * -Math.expm1(x);
  },
};

export const logsigmoid: ElementwiseActivation = {
  name: 'logsigmoid',
  aliases: [],
  kind: 'elementwise',
  description:
    'The log of the logistic function, -softplus(-z): finite for every z, unlike log(sigmoid(z)) ' +
    'once sigmoid(z) underflows.',
  params: [],
  formula: 'g(z) = \\log \\sigma(z) = -\\log\\left(1 + e^{-z}\\right)',
  derivativeFormula: "g'(z) = \\sigma(-z) = \\frac{1}{1 + e^{z}} = 1 - e^{a}",
  forward: (z) => logLogistic(z),
  derivative: (z) => logistic(-z),
  derivativeFromOutput: (a) => -Math.expm1(a),
  outputCheck: outputsWithin(() => Number.NEGATIVE_INFINITY, zero),
  secondDerivativeFormula: "g''(z) = -\\sigma(z)\\,\\sigma(-z) = e^{a}\\left(e^{a} - 1\\right)",
  secondDerivative: (z) => -logisticDerivative(z),
  // sigma(z) = e^a and sigma(-z) = -expm1(a): neither cancels.
  secondDerivativeFromOutput: (a) => Math.exp(a) * Math.expm1(a),
};

export const tanhshrink: ElementwiseActivation = {
  name: 'tanhshrink',
  aliases: [],
  kind: 'elementwise',
  description: 'z - tanh z: flat (cubic) near 0 and z -/+ 1 for large |z|.',
  params: [],
  formula: 'g(z) = z - \\tanh z',
  derivativeFormula: "g'(z) = 1 - \\operatorname{sech}^2 z = \\tanh^2 z",
  forward: (z) => tanhDeficit(z),
  derivative: (z) => tanhSquared(z),
  secondDerivativeFormula: "g''(z) = 2 \\tanh z \\operatorname{sech}^2 z",
  secondDerivative: (z) => -tanhSecondDerivative(z),
};

export const exponentialFamily: readonly ElementwiseActivation[] = [
  sigmoid,
  tanh,
  elu,
  selu,
  celu,
  softplus,
  logsigmoid,
  tanhshrink,
];
