/**
 * The baseline: a bare Fastify app whose one route sends the parsed JSON body back. Whatever the service costs
 * beyond it (validation, conversion, math, the bigger reply) shows in the service/echo ratio. Same body limit
 * as the service; raw bodies (the binary tensor media type) are echoed as they came.
 */
import Fastify from 'fastify';
import { announce } from './announce.js';

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
app.post('/echo', async (request, reply) => {
  if (Buffer.isBuffer(request.body)) return reply.type('application/octet-stream').send(request.body);
  return request.body;
});

await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server.address());
