/** Schemas of the liveness and readiness probes. */
import { Type } from 'typebox';
import { openErrorResponses } from './responses.js';

export const healthSchema = {
  operationId: 'healthz',
  tags: ['operations'],
  summary: 'Liveness',
  description: '200 while the process runs.',
  response: {
    200: Type.Object(
      { status: Type.Literal('ok', { description: 'Always "ok".' }) },
      { description: 'The process is alive.' },
    ),
    ...openErrorResponses('v1'),
  },
};

export const readySchema = {
  operationId: 'readyz',
  tags: ['operations'],
  summary: 'Readiness',
  description: '200 when serving; 503 (problem+json, type not-ready) while shutting down or overloaded.',
  response: {
    200: Type.Object(
      { status: Type.Literal('ready', { description: 'Always "ready".' }) },
      { description: 'The service takes requests.' },
    ),
    ...openErrorResponses('v1', {
      add: { 503: 'Not ready (shutting down or overloaded): the detail says why.' },
    }),
  },
};
