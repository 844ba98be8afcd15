/** GET /v1/activations/{name}/plot.svg: g and g' over a range, as SVG, for any entry of the table. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { resolveParams } from '../core/activations/index.js';
import { InvalidRequestError, type ValidationIssue } from '../errors.js';
import { activationPlotSvg } from '../plots/activation.js';
import { plotLimits, plotSchema } from '../schemas/plot.js';
import { activationFor, knownActivation, routePlugin } from './support.js';

const numeric = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Query problems point at /query/<key> (the body's are /<field>), one form for every plot error. */
const queryPointer = (key: string) => (key ? `/query/${key}` : '/query');

const plotRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/activations/:name/plot.svg',
    { schema: plotSchema, onRequest: knownActivation, attachValidation: true },
    async (request, reply) => {
      const entry = activationFor(request.params.name);
      // The query schema only says every value is a string; a repeated key (an array) is reported below,
      // with every other query problem, as /query/<key>.
      if (request.validationError && request.validationError.validationContext !== 'querystring')
        throw request.validationError;
      const issues: ValidationIssue[] = [];
      const raw: Record<string, string> = {};
      for (const [key, value] of Object.entries(request.query as Record<string, unknown>)) {
        if (typeof value === 'string') raw[key] = value;
        else issues.push({ path: queryPointer(key), message: 'must be given once' });
      }
      const { from: rawFrom = '-6', to: rawTo = '6', ...rawParams } = raw;
      const number = (key: string, text: string) => {
        const value = numeric.test(text.trim()) ? Number(text) : Number.NaN;
        if (!Number.isFinite(value))
          issues.push({ path: queryPointer(key), message: 'must be a finite number' });
        return value;
      };
      const from = number('from', rawFrom);
      const to = number('to', rawTo);
      // Params go to the table's check as they are (NaN when not numeric): it names an unknown param as
      // unknown whatever its value, and a known one that is not a number as such.
      const params = Object.fromEntries(
        Object.entries(rawParams).map(([k, v]) => [k, numeric.test(v.trim()) ? Number(v) : Number.NaN]),
      );
      const resolved = resolveParams(entry, params);
      if ('errors' in resolved)
        for (const e of resolved.errors)
          issues.push({ path: queryPointer(e.path.slice(1)), message: e.message });
      if (issues.length || 'errors' in resolved) throw new InvalidRequestError(issues);
      const bound = plotLimits.maxAbs;
      for (const [key, value] of [
        ['from', from],
        ['to', to],
      ] as const)
        if (Math.abs(value) > bound)
          issues.push({ path: queryPointer(key), message: `must lie within ±${bound}` });
      if (issues.length) throw new InvalidRequestError(issues);
      if (!(from < to))
        throw new InvalidRequestError([
          { path: queryPointer('to'), message: `must be greater than from (${from})` },
        ]);
      if (to - from < plotLimits.minSpan)
        throw new InvalidRequestError([
          { path: queryPointer('to'), message: `to - from must be at least ${plotLimits.minSpan}` },
        ]);
      return reply
        .type('image/svg+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(activationPlotSvg(entry, resolved.params, from, to));
    },
  );
};

export default routePlugin('plot-routes', plotRoutes);
