/**
 * How the process runs: one server (WORKERS=1), or a node:cluster primary forking WORKERS servers that
 * share the port. Both shut down the same way on SIGTERM/SIGINT: /readyz turns 503 at once, the listener
 * closes, idle keep-alive connections close, in-flight requests finish with Connection: close, and the
 * process exits 0 right after the last one; if they have not finished after SHUTDOWN_TIMEOUT_MS, it exits 1
 * anyway (the orchestrator's own kill would come next).
 */
import cluster, { type Worker } from 'node:cluster';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { type App, buildApp } from './app.js';
import type { AppConfig } from './config.js';
import {
  type ClusterMetricsMessage,
  clusterMetricsRequest,
  clusterMetricsResponse,
} from './plugins/metrics.js';

export async function start(config: AppConfig): Promise<void> {
  if (config.workers > 1 && cluster.isPrimary) runPrimary(config);
  else await serve(config);
}

/** What a drain needs of a server: the responses under way, and whether it is draining. */
interface ConnectionDrain {
  readonly underWay: Set<ServerResponse>;
  draining: boolean;
}

const drains = new WeakMap<Server, ConnectionDrain>();

/** Longest a drained connection waits for its client to close after the last response; then it is destroyed. */
const clientCloseGraceMs = 5_000;

/**
 * Node closes the socket of a Connection: close response (destroySoon) as soon as the response is handed to
 * the kernel, and the drain then lets the process exit. In a container that loses the end of a large response
 * still in flight: the network namespace goes with the process (seen in scripts/container-test.sh). So end
 * our side only (FIN after the data), and keep the socket, and the process, until the client has read the
 * response and closed its side, within clientCloseGraceMs.
 */
function closeWhenClientHasRead(socket: Socket | null): void {
  if (!socket) return;
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), clientCloseGraceMs);
    socket.once('close', () => clearTimeout(timer));
  };
}

/** This response ends its connection: Connection: close, and the socket kept until the client has read it. */
function lastOnItsConnection(response: ServerResponse): void {
  if (response.headersSent) return;
  response.setHeader('connection', 'close');
  closeWhenClientHasRead(response.socket);
}

/**
 * Keeps the responses under way on `server` (each until it ends), so that a drain reaches those already
 * started: call before listening. Keep-alive connections are what a drain must end itself: node's
 * server.close() closes the idle ones it finds, but one whose response finishes later stays open (a pooled
 * client keeps it), and the close would wait for it until SHUTDOWN_TIMEOUT_MS.
 */
export function trackResponses(server: Server): void {
  const drain: ConnectionDrain = { underWay: new Set(), draining: false };
  drains.set(server, drain);
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    // Fastify's own listener ran first: a request arriving while draining may be answered already (its 503).
    if (drain.draining) lastOnItsConnection(response);
    drain.underWay.add(response);
    const socket = response.socket;
    response.once('close', () => {
      drain.underWay.delete(response);
      // A response that could not carry Connection: close (its head was out before the drain) leaves an idle
      // connection behind: end it now rather than when SHUTDOWN_TIMEOUT_MS runs out. Only this one, and
      // gracefully: server.closeIdleConnections() here destroyed the sockets of other responses that had
      // just finished but were still flushing, cutting large responses short (seen in the container test).
      if (drain.draining && socket && !socket.destroyed && response.getHeader('connection') !== 'close') {
        closeWhenClientHasRead(socket);
        socket.destroySoon();
      }
    });
  });
}

/**
 * From now on every response of `server` ends its connection (Connection: close, which node honours by
 * closing the socket once the response is written), and idle keep-alive connections close at once.
 */
function closeConnectionsAfterResponses(server: Server): void {
  const drain = drains.get(server);
  if (drain) {
    drain.draining = true;
    for (const response of drain.underWay) lastOnItsConnection(response);
  }
  server.closeIdleConnections();
}

/**
 * Not ready from now on (with the reason), then close: no new connections, idle keep-alive connections
 * closed at once, in-flight requests finish (their responses with Connection: close), and it returns right
 * after the last one.
 */
export async function drain(app: App, why: string): Promise<void> {
  app.readiness.ready = false;
  app.readiness.reason = `Shutting down (${why}).`;
  app.log.info({ signal: why }, 'shutting down: no new connections, finishing in-flight requests');
  closeConnectionsAfterResponses(app.server);
  await app.close();
  app.log.info('shut down');
}

/** One server: builds the app, closes it gracefully on a signal, listens. */
export async function serve(config: AppConfig): Promise<void> {
  const app = await buildApp(config);
  const inCluster = cluster.isWorker;

  closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      logger: { error: (message: unknown) => app.log.error(message) },
      // A terminal's Ctrl-C reaches the primary and every worker, and the primary then forwards SIGTERM:
      // that second signal must not cut a worker's drain short (the primary bounds it).
      ...(inCluster
        ? { onSecondSignal: (signal: string) => app.log.warn({ signal }, 'already shutting down') }
        : {}),
      onTimeout: (delay: number) =>
        app.log.error({ delay }, 'in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; exiting'),
    },
    async ({ signal, err }) => {
      if (err) app.log.fatal({ err }, 'uncaught error; shutting down');
      await drain(app, signal ?? 'error');
    },
  );

  trackResponses(app.server);
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    app.log.fatal({ err: error }, 'could not listen');
    process.exit(1);
  }
}

// A worker that crashes after it served is replaced, unless crashes come this fast (a crash loop).
const restartWindowMs = 60_000;
const maxRestartsPerWindow = 5;

/** The cluster primary: forks, replaces crashed workers, sums their metrics, forwards the shutdown. */
export function runPrimary(config: AppConfig): void {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' });
  const listening = new WeakSet<Worker>();
  const restarts: number[] = [];
  let shuttingDown = false;
  let failed = false;

  // Workers answer prom-client's own IPC request with their registry; the primary sums them for a scrape.
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== clusterMetricsRequest || typeof message.id !== 'number') return;
    const id = message.id;
    const reply = (answer: Omit<ClusterMetricsMessage, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: clusterMetricsResponse, id, ...answer });
    };
    aggregator.clusterMetrics().then(
      (metrics) => reply({ metrics }),
      (error: Error) => reply({ error: error.message }),
    );
  });

  const fork = () => {
    const worker = cluster.fork();
    worker.once('listening', () => listening.add(worker));
  };

  const exitWhenAllGone = () => {
    if (Object.keys(cluster.workers ?? {}).length > 0) return;
    log.info({ failed }, 'all workers exited');
    process.exit(failed ? 1 : 0);
  };

  cluster.on('exit', (worker, code, signal) => {
    if (shuttingDown) {
      // A worker cut short by its own SHUTDOWN_TIMEOUT_MS exits 1: so does the primary, to say so.
      if (code !== 0) failed = true;
      log.info({ pid: worker.process.pid, code, signal }, 'worker exited');
      exitWhenAllGone();
      return;
    }
    const now = Date.now();
    while (restarts.length && now - restarts[0] > restartWindowMs) restarts.shift();
    if (!listening.has(worker) || restarts.length >= maxRestartsPerWindow) {
      // It never listened (a port in use, say) or keeps crashing: more forks would fail the same way.
      log.fatal({ pid: worker.process.pid, code, signal }, 'worker failed; stopping');
      failed = true;
      shutdown('SIGTERM');
      return;
    }
    restarts.push(now);
    log.error({ pid: worker.process.pid, code, signal }, 'worker died; replacing it');
    fork();
  });

  function shutdown(signal: NodeJS.Signals) {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: killing workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    shuttingDown = true;
    log.info({ signal }, 'shutting down: forwarding to workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    // Workers bound their own drain by SHUTDOWN_TIMEOUT_MS; this only catches one that hangs regardless.
    setTimeout(() => {
      log.error('workers did not exit in time; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownTimeoutMs + 5000).unref();
    exitWhenAllGone();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  log.info({ workers: config.workers }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}
