/**
 * Piecewise-linear and piecewise-polynomial activations (exact or within an ulp or two in float64, with
 * PyTorch's derivative at each kink), and softsign, rational with a kink in its second derivative.
 */
import { divideOnce, inverseCubeOnePlus, inverseSquareOnePlus, multiplyOnce } from '../numeric/elementary.js';
import type { ElementwiseActivation, Params } from './types.js';

/** An outputCheck for activations whose outputs fill [lo, hi] (closed: float64 rounding reaches the ends). */
export function outputsWithin(
  lo: (params: Params) => number,
  hi: (params: Params) => number,
): (a: number, params: Params) => string | undefined {
  return (a, params) => {
    const min = lo(params);
    const max = hi(params);
    return a >= min && a <= max
      ? undefined
      : `is not an output of this activation: must be in [${min}, ${max}]`;
  };
}

/**
 * For leaky_relu and elu, a negative alpha makes g(z) > 0 on both sides of 0, so the output a no longer
 * tells which branch z was on: the derivative from a is refused.
 */
export const alphaMustNotBeNegative = (_a: number, { alpha }: Params): string | undefined =>
  alpha < 0 ? 'with alpha < 0 the output does not determine the derivative: send z instead' : undefined;

const always = (value: number) => () => value;

/**
 * g'' of a piecewise-linear activation: 0 on every linear piece, and 0 at the kinks too, where g' jumps and has no
 * derivative (PyTorch's double backward gives 0 there). Exactly +0, whatever the sign of z.
 */
const piecewiseLinearSecond = {
  secondDerivativeFormula: "g''(z) = 0 \\ (\\text{0 also where } g' \\text{ jumps})",
  secondDerivative: always(0),
  secondDerivativeFromOutput: always(0),
} as const;

export const identity: ElementwiseActivation = {
  name: 'identity',
  aliases: ['linear'],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'The identity: passes z through unchanged (a linear output layer).',
  params: [],
  formula: 'g(z) = z',
  derivativeFormula: "g'(z) = 1",
  forward: (z) => z,
  derivative: () => 1,
  derivativeFromOutput: () => 1,
};

export const relu: ElementwiseActivation = {
  name: 'relu',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'Rectified linear unit: z for z > 0, 0 otherwise.',
  params: [],
  formula: 'g(z) = \\max(0, z)',
  derivativeFormula: "g'(z) = \\begin{cases} 1 & z > 0 \\\\ 0 & z \\le 0 \\end{cases} = [a > 0]",
  forward: (z) => Math.max(z, 0),
  // PyTorch: relu'(0) = 0.
  derivative: (z) => (z > 0 ? 1 : 0),
  derivativeFromOutput: (a) => (a > 0 ? 1 : 0),
  outputCheck: outputsWithin(always(0), always(Number.POSITIVE_INFINITY)),
};

export const leakyRelu: ElementwiseActivation = {
  name: 'leaky_relu',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'ReLU with a small slope alpha for z < 0, so that negative inputs still pass a gradient.',
  params: [
    { name: 'alpha', default: 0.01, description: 'The slope for z <= 0 (negative_slope in PyTorch).' },
  ],
  formula: 'g(z) = \\begin{cases} z & z > 0 \\\\ \\alpha z & z \\le 0 \\end{cases}',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & z > 0 \\\\ \\alpha & z \\le 0 \\end{cases} = [a > 0] + \\alpha\\,[a \\le 0]\\ (\\alpha \\ge 0)",
  forward: (z, { alpha }) => (z > 0 ? z : alpha * z),
  // PyTorch: leaky_relu'(0) = alpha.
  derivative: (z, { alpha }) => (z > 0 ? 1 : alpha),
  derivativeFromOutput: (a, { alpha }) => (a > 0 ? 1 : alpha),
  outputCheck: alphaMustNotBeNegative,
};

export const relu6: ElementwiseActivation = {
  name: 'relu6',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'ReLU capped at 6: min(max(0, z), 6).',
  params: [],
  formula: 'g(z) = \\min(\\max(0, z), 6)',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & 0 < z < 6 \\\\ 0 & \\text{otherwise} \\end{cases} = [0 < a < 6]",
  forward: (z) => Math.min(Math.max(z, 0), 6),
  // PyTorch: relu6'(0) = relu6'(6) = 0.
  derivative: (z) => (z > 0 && z < 6 ? 1 : 0),
  derivativeFromOutput: (a) => (a > 0 && a < 6 ? 1 : 0),
  outputCheck: outputsWithin(always(0), always(6)),
};

export const hardtanh: ElementwiseActivation = {
  name: 'hardtanh',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'z clamped to [min, max]: a piecewise-linear tanh.',
  params: [
    { name: 'min', default: -1, description: 'The lower clamp (min_val in PyTorch); must be below max.' },
    { name: 'max', default: 1, description: 'The upper clamp (max_val in PyTorch); must be above min.' },
  ],
  checkParams: ({ min, max }) => (min < max ? undefined : `min (${min}) must be less than max (${max})`),
  formula: 'g(z) = \\min(\\max(z, \\mathrm{min}), \\mathrm{max})',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & \\mathrm{min} < z < \\mathrm{max} \\\\ 0 & \\text{otherwise} \\end{cases} = [\\mathrm{min} < a < \\mathrm{max}]",
  forward: (z, { min, max }) => Math.min(Math.max(z, min), max),
  // PyTorch: 0 at both clamp points.
  derivative: (z, { min, max }) => (z > min && z < max ? 1 : 0),
  derivativeFromOutput: (a, { min, max }) => (a > min && a < max ? 1 : 0),
  outputCheck: outputsWithin(
    ({ min }) => min,
    ({ max }) => max,
  ),
};

export const hardsigmoid: ElementwiseActivation = {
  name: 'hardsigmoid',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'A piecewise-linear sigmoid: 0 below -3, 1 above 3, (z + 3)/6 between.',
  params: [],
  formula: 'g(z) = \\min(\\max(0, z + 3), 6) / 6',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1/6 & -3 < z < 3 \\\\ 0 & \\text{otherwise} \\end{cases} = \\tfrac{1}{6}[0 < a < 1]",
  forward: (z) => {
    if (z <= -3) return 0;
    if (z >= 3) return 1;
    // (z + 3)/6, not z/6 + 1/2, which cancels near -3. z + 3 is exact up to z = -1.5; above, its low part
    // is carried so the result is correctly rounded, hence below 1 for every z < 3 (derivativeFromOutput
    // relies on that: fl(fl(z + 3)/6) is 1 from z = 3 - 2^-51 on).
    const s = z + 3;
    const sLo = z - (s - 3);
    return sLo === 0 ? s / 6 : divideOnce(s, sLo, 6);
  },
  // PyTorch: 0 at z = -3 and z = 3.
  derivative: (z) => (z > -3 && z < 3 ? 1 / 6 : 0),
  derivativeFromOutput: (a) => (a > 0 && a < 1 ? 1 / 6 : 0),
  outputCheck: outputsWithin(always(0), always(1)),
};

export const hardswish: ElementwiseActivation = {
  name: 'hardswish',
  aliases: [],
  kind: 'elementwise',
  description: 'z times hardsigmoid(z): 0 below -3, z above 3, z (z + 3)/6 between (MobileNetV3).',
  params: [],
  formula: 'g(z) = z \\cdot \\min(\\max(0, z + 3), 6) / 6',
  derivativeFormula:
    "g'(z) = \\begin{cases} 0 & z < -3 \\\\ (2z + 3)/6 & -3 \\le z \\le 3 \\\\ 1 & z > 3 \\end{cases}",
  forward: (z) => {
    if (z <= -3) return 0;
    if (z >= 3) return z;
    // z (z + 3) with z + 3 carried exactly (Fast2Sum) and the product rounded once, then / 6: one ulp
    // where z * (z + 3) / 6 takes three roundings.
    const s = z + 3;
    return multiplyOnce(z, s, z - (s - 3)) / 6;
  },
  // PyTorch takes the middle branch at both kinks: g'(-3) = -1/2, g'(3) = 3/2.
  derivative: (z) => (z < -3 ? 0 : z > 3 ? 1 : (2 * z + 3) / 6),
  secondDerivativeFormula:
    "g''(z) = \\begin{cases} 1/3 & -3 < z < 3 \\\\ 0 & \\text{otherwise (0 at } z = \\pm 3\\text{, where } g' \\text{ jumps)} \\end{cases}",
  // 1/3 rounded once. No form in a: a in (-3/8, 0) comes from two z in (-3, 0), and a = 0 from z = 0 (1/3) and z <= -3 (0).
  secondDerivative: (z) => (z > -3 && z < 3 ? 1 / 3 : 0),
};

const shrinkLambda = {
  name: 'lambda',
  default: 0.5,
  minimum: 0,
  description: 'The half-width of the dead zone [-lambda, lambda] (lambd in PyTorch).',
};

export const softshrink: ElementwiseActivation = {
  name: 'softshrink',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'Soft thresholding: 0 on [-lambda, lambda], z moved lambda towards 0 outside.',
  params: [shrinkLambda],
  formula:
    'g(z) = \\begin{cases} z - \\lambda & z > \\lambda \\\\ z + \\lambda & z < -\\lambda \\\\ 0 & \\text{otherwise} \\end{cases}',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & |z| > \\lambda \\\\ 0 & |z| \\le \\lambda \\end{cases} = [a \\ne 0]",
  forward: (z, { lambda }) => (z > lambda ? z - lambda : z < -lambda ? z + lambda : 0),
  // PyTorch: 0 at z = +-lambda.
  derivative: (z, { lambda }) => (z > lambda || z < -lambda ? 1 : 0),
  // z - lambda for z > lambda is never 0 in float64 (distinct doubles differ), so a = 0 iff |z| <= lambda.
  derivativeFromOutput: (a) => (a !== 0 ? 1 : 0),
};

export const hardshrink: ElementwiseActivation = {
  name: 'hardshrink',
  aliases: [],
  kind: 'elementwise',
  ...piecewiseLinearSecond,
  description: 'Hard thresholding: 0 on [-lambda, lambda] (both ends included), z outside.',
  params: [shrinkLambda],
  formula: 'g(z) = \\begin{cases} z & |z| > \\lambda \\\\ 0 & |z| \\le \\lambda \\end{cases}',
  derivativeFormula:
    "g'(z) = \\begin{cases} 1 & |z| > \\lambda \\\\ 0 & |z| \\le \\lambda \\end{cases} = [a \\ne 0]",
  // PyTorch: hardshrink(+-lambda) = 0 and hardshrink'(+-lambda) = 0.
  forward: (z, { lambda }) => (z > lambda || z < -lambda ? z : 0),
  derivative: (z, { lambda }) => (z > lambda || z < -lambda ? 1 : 0),
  derivativeFromOutput: (a) => (a !== 0 ? 1 : 0),
  // The outputs are 0 and the z beyond the threshold: an a in [-lambda, lambda] other than 0 is none of them.
  outputCheck: (a, { lambda }) =>
    a === 0 || a > lambda || a < -lambda
      ? undefined
      : `is not an output of hardshrink with lambda ${lambda}: outputs are 0 or beyond +-lambda`,
};

export const softsign: ElementwiseActivation = {
  name: 'softsign',
  aliases: [],
  kind: 'elementwise',
  description: 'z / (1 + |z|): a squashing into (-1, 1) with polynomial rather than exponential tails.',
  params: [],
  formula: 'g(z) = \\frac{z}{1 + |z|}',
  derivativeFormula: "g'(z) = \\frac{1}{(1 + |z|)^2} = (1 - |a|)^2",
  forward: (z) => z / (1 + Math.abs(z)),
  // Not 1/(1 + |z|)^2 in plain float64: three roundings (3 ulp), and (1 + |z|)^2 overflows from 1e154 on.
  derivative: (z) => inverseSquareOnePlus(z),
  derivativeFromOutput: (a) => {
    const d = 1 - Math.abs(a);
    return d * d;
  },
  // Closed: softsign(1e308) rounds to 1.
  outputCheck: outputsWithin(always(-1), always(1)),
  secondDerivativeFormula:
    "g''(z) = \\frac{-2 \\operatorname{sign} z}{(1 + |z|)^3} = -2 \\operatorname{sign}(a) (1 - |a|)^3",
  // Not -2/(1 + |z|)^3 in plain float64: four roundings, and the cube overflows from 5.6e102 on (inverseCubeOnePlus
  // rounds once, subnormal results included).
  secondDerivative: (z) => (z > 0 ? inverseCubeOnePlus(z, -2) : z < 0 ? inverseCubeOnePlus(z, 2) : 0),
  secondDerivativeFromOutput: (a) => {
    const d = 1 - Math.abs(a);
    return a > 0 ? -2 * (d * d * d) : a < 0 ? 2 * (d * d * d) : 0;
  },
  secondDerivativeNote:
    "g' is continuous at z = 0 but g'' jumps from 2 (left) to -2 (right): g''(0) is 0 (PyTorch's double " +
    'backward, and the mean of the two limits).',
};

export const piecewiseFamily: readonly ElementwiseActivation[] = [
  identity,
  relu,
  leakyRelu,
  relu6,
  hardtanh,
  hardsigmoid,
  hardswish,
  softshrink,
  hardshrink,
  softsign,
];
