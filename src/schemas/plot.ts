/** Schema of GET /v1/activations/{name}/plot.svg. */
import { Type } from 'typebox';
import { ActivationNameParams } from './activations.js';
import { readErrorResponses } from './responses.js';

export const plotLimits = { maxAbs: 1e6, minSpan: 1e-6 } as const;

const bound = (description: string, example: string) =>
  Type.Optional(Type.String({ description, examples: [example] }));

export const plotSchema = {
  operationId: 'plotActivation',
  tags: ['activations'],
  summary: "Plot g and g' as SVG",
  description:
    "An SVG line plot of g(z) (solid) and g'(z) (dashed) over [from, to], with axes, ticks, a title and a " +
    'legend. Activation params go in the query string too (e.g. ?alpha=0.2); unknown or out-of-range ones are ' +
    `a 400, as are from >= to, non-numbers, bounds beyond ±${plotLimits.maxAbs} or a span below ${plotLimits.minSpan}. ` +
    'softmax and log_softmax are plotted on their 2-class slice z = (t, 0): the first output and its ' +
    'derivative with respect to t.',
  params: ActivationNameParams('sigmoid'),
  querystring: Type.Object(
    {
      from: bound('Left end of the range (default -6).', '-6'),
      to: bound('Right end of the range (default 6), greater than from.', '6'),
    },
    { additionalProperties: Type.String({ description: 'An activation param, e.g. alpha=0.2.' }) },
  ),
  response: {
    200: {
      description: 'The plot: image/svg+xml.',
      content: { 'image/svg+xml': { schema: { type: 'string', description: 'An SVG document.' } } },
    },
    ...readErrorResponses('v1', {
      notFound: 'Unknown activation name or alias (the detail lists the known names and aliases).',
      add: {
        400:
          'from/to not finite numbers, from >= to, span out of range, a repeated key, or unknown or out-of-range ' +
          'params; every error points at /query/<key> (e.g. /query/from, /query/alpha).',
      },
    }),
  },
};
