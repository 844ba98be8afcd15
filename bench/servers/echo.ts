/**
 * The baseline: a bare Fastify app that parses the same JSON body as the service and sends back a reply of
 * the same shape and size, built from the request's own numbers without any math. Whatever the service
 * costs beyond it (validation, conversion to float64, the math, metrics, hooks) shows in the service/echo
 * ratio; the reply's size does not, since both write as many numbers.
 *
 *   POST /echo/forward      {z}                    -> {a: z}
 *   POST /echo/derivative   {z}                    -> {derivative: z, a: z}
 *   POST /echo/jacobian     {z: [N][K] or [K]}     -> {a: z, jacobian: [N][K][K] or [K][K] (each row K times)}
 *   POST /echo/output-layer {x, weights, targets}  -> the output layer's fields, each from an input of its shape
 *   POST /echo              any body               -> the body (raw bodies as they came)
 *
 * Same body limit as the service.
 */
import Fastify from 'fastify';
import { announce } from './announce.js';

type Tensor = number[] | number[][];
const isMatrix = (t: Tensor): t is number[][] => Array.isArray(t[0]);

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

app.post('/echo', async (request, reply) => {
  if (Buffer.isBuffer(request.body)) return reply.type('application/octet-stream').send(request.body);
  return request.body;
});
app.post<{ Body: { z: Tensor } }>('/echo/forward', async (request) => ({ a: request.body.z }));
app.post<{ Body: { z: Tensor } }>('/echo/derivative', async (request) => ({
  derivative: request.body.z,
  a: request.body.z,
}));
app.post<{ Body: { z: Tensor } }>('/echo/jacobian', async (request) => {
  const z = request.body.z;
  const square = (row: number[]) => row.map(() => row);
  return { a: z, jacobian: isMatrix(z) ? z.map(square) : square(z) };
});
app.post<{ Body: { x: number[][]; weights: number[][]; targets: number[][] } }>(
  '/echo/output-layer',
  async (request) => {
    const { x, weights, targets } = request.body;
    // z, a, delta are N x K (targets' shape), the weight gradient M x K, the bias gradient K, the input gradient N x M.
    return {
      loss: 0,
      z: targets,
      a: targets,
      delta: targets,
      weightGradient: weights,
      biasGradient: targets[0],
      inputGradient: x,
    };
  },
);

await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server.address());

// Exit cleanly on the parent's SIGTERM (so that node --cpu-prof writes its profile when profiling the baseline).
process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
