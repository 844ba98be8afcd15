/** GET /v1/activations/{name}/plot.svg: g and g' over a range, as SVG, for any entry of the table. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { resolveParams } from '../core/activations/index.js';
import { activationPlotSvg } from '../plots/activation.js';
import { invalid, type ValidationIssue } from '../plugins/problem.js';
import { plotLimits, plotSchema } from '../schemas/plot.js';
import { activationFor, knownActivation } from './support.js';

const numeric = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const plotRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/activations/:name/plot.svg',
    { schema: plotSchema, onRequest: knownActivation },
    async (request, reply) => {
      const entry = activationFor(request.params.name);
      const { from: rawFrom = '-6', to: rawTo = '6', ...rawParams } = request.query as Record<string, string>;
      const issues: ValidationIssue[] = [];
      const number = (key: string, raw: string) => {
        const value = numeric.test(raw.trim()) ? Number(raw) : Number.NaN;
        if (!Number.isFinite(value)) issues.push({ path: `/${key}`, message: 'must be a finite number' });
        return value;
      };
      const from = number('from', rawFrom);
      const to = number('to', rawTo);
      const params = Object.fromEntries(Object.entries(rawParams).map(([k, v]) => [k, number(k, String(v))]));
      if (issues.length) throw invalid(issues, `query ${issues[0].path}: ${issues[0].message}`);
      const bound = plotLimits.maxAbs;
      if (Math.abs(from) > bound || Math.abs(to) > bound)
        throw invalid([{ path: '/from', message: `from and to must lie within ±${bound}` }]);
      if (!(from < to)) throw invalid([{ path: '/to', message: `must be greater than from (${from})` }]);
      if (to - from < plotLimits.minSpan)
        throw invalid([{ path: '/to', message: `to - from must be at least ${plotLimits.minSpan}` }]);
      const resolved = resolveParams(entry, params);
      if ('errors' in resolved)
        throw invalid(resolved.errors.map((e) => ({ path: e.path || '/', message: e.message })));
      return reply
        .type('image/svg+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(activationPlotSvg(entry, resolved.params, from, to));
    },
  );
};

export default plotRoutes;
