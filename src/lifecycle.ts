/**
 * How the process runs: one server (WORKERS=1), or a node:cluster primary forking WORKERS servers that
 * share the port. Both shut down the same way on SIGTERM/SIGINT: /readyz turns 503 at once; for
 * SHUTDOWN_DELAY_MS the listener stays open (balancers see the 503 and stop sending; what they send meanwhile
 * is answered, with Connection: close); then the listener closes, idle keep-alive connections close,
 * in-flight requests finish with Connection: close, answers still being written reach their readers, and the
 * process exits 0 right after the last one; if that has not happened SHUTDOWN_TIMEOUT_MS after the delay, it
 * exits 1 anyway (the orchestrator's own kill would come next).
 */
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
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

/**
 * The figures the process runs with, from the container's limits (src/resources.ts): logged once at start
 * (by the primary of a cluster), so that a wrong limit shows before it matters.
 */
export function resourceFigures(config: AppConfig) {
  return {
    cores: config.resources.cores,
    memoryBytes: config.resources.memoryBytes,
    memoryLimited: config.resources.memoryLimited,
    source: config.resources.source,
    workers: config.workers,
    threadsPerWorker: config.offload.threads,
    threadHeapLimitMb: config.offload.heapLimitMb ?? null,
    memoryBudgetBytesPerWorker: config.memoryBudgetBytes,
    maxQueueBytesPerWorker: config.offload.maxQueueBytes,
  };
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
 * Ends our side of an idle connection (FIN after any data still queued) and keeps the socket, and so the
 * process, until the client closes its side, within clientCloseGraceMs. Ending rather than destroying: a
 * destroyed socket drops what node has not yet handed to the kernel.
 */
function endGracefully(socket: Socket): void {
  socket.end();
  const timer = setTimeout(() => socket.destroy(), clientCloseGraceMs);
  socket.once('close', () => clearTimeout(timer));
}

/** This response ends its connection: Connection: close (node ends the socket once the response is written). */
function lastOnItsConnection(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('connection', 'close');
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
      // connection behind: end it now rather than when SHUTDOWN_TIMEOUT_MS runs out. 'close' comes after
      // 'finish', when node has handed the whole response to the kernel, so ending here cuts nothing short.
      if (drain.draining && socket && !socket.destroyed && response.getHeader('connection') !== 'close')
        endGracefully(socket);
    });
  });
}

/**
 * Stops accepting connections, at a moment when no response is flushing. server.close() (and Fastify's close,
 * which calls it again) runs server.closeIdleConnections(), and node counts a connection idle as soon as its
 * response is end()ed: a large answer still being written to a slow reader would be destroyed with most of it
 * unsent. So wait for each such response to be handed to the kernel ('finish'), then close in the same tick.
 * Resolves once every connection has closed.
 */
function closeWhenNoneFlushing(server: Server, drain: ConnectionDrain | undefined): Promise<void> {
  return new Promise((resolve) => {
    const attempt = () => {
      const flushing = [...(drain?.underWay ?? [])].find((r) => r.writableEnded && !r.writableFinished);
      if (flushing) {
        // 'close' too: a response whose socket breaks never finishes.
        const again = () => {
          flushing.off('finish', again);
          flushing.off('close', again);
          attempt();
        };
        flushing.once('finish', again);
        flushing.once('close', again);
        return;
      }
      server.close(() => resolve());
    };
    attempt();
  });
}

/**
 * Not ready from now on (with the reason); after `delayMs`, during which everything is still served but each
 * response ends its connection, close: no new connections, idle keep-alive connections closed, in-flight
 * requests finish (their responses with Connection: close) and answers being written reach their readers; it
 * returns once the kernel has delivered them (kernelDelivered) and the app has closed.
 */
export async function drain(app: App, why: string, delayMs = 0): Promise<void> {
  app.readiness.ready = false;
  app.readiness.reason = `Shutting down (${why}).`;
  app.log.info(
    { signal: why, delayMs },
    'shutting down: readiness 503, listener open for SHUTDOWN_DELAY_MS, then finishing in-flight requests',
  );
  const server = app.server;
  const connections = drains.get(server);
  if (connections) {
    connections.draining = true;
    for (const response of connections.underWay) lastOnItsConnection(response);
  }
  // Balancers see the 503 at their next health check and stop sending; until then their requests are served.
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const address = server.address();
  if (server.listening) await closeWhenNoneFlushing(server, connections);
  if (address && typeof address === 'object') await kernelDelivered(address.port);
  await app.close();
  app.log.info('shut down');
}

/** TCP states in /proc/net/tcp (hex) of a connection whose last bytes may not have reached the peer. */
const sendingStates = new Set(['04', '0B', '09']); // FIN_WAIT1, CLOSING, LAST_ACK

/**
 * How many connections from local `port` still hold answer bytes the peer has not acknowledged, from the text
 * of /proc/net/tcp or /proc/net/tcp6: an unacknowledged send queue, or our FIN not yet acknowledged.
 */
export function unsentConnections(procNetTcp: string, port: number): number {
  let count = 0;
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const localPort = Number.parseInt(fields[1].split(':')[1] ?? '', 16);
    if (localPort !== port) continue;
    const txQueue = Number.parseInt(fields[4].split(':')[0] ?? '0', 16);
    if (txQueue > 0 || sendingStates.has(fields[3])) count++;
  }
  return count;
}

/**
 * Node closes a Connection: close socket once the kernel holds the rest of the answer; the kernel sends it on
 * its own, but a container's network goes with the process, taking up to a socket buffer (MBs) of answer
 * with it when a reader is slow. So before exiting, wait until the kernel has no unacknowledged bytes on our
 * port (Linux; elsewhere this returns at once). SHUTDOWN_TIMEOUT_MS bounds it with the rest of the drain.
 */
async function kernelDelivered(port: number): Promise<void> {
  const unsent = () => {
    let count = 0;
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      try {
        count += unsentConnections(readFileSync(file, 'latin1'), port);
      } catch {
        // No procfs (not Linux) or no IPv6: nothing to wait for there.
      }
    }
    return count;
  };
  while (unsent() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The longest a drain may take, its delay included (within node's 2^31 - 1 ms timer range). */
const drainBoundMs = (config: AppConfig): number =>
  Math.min(2_147_483_647 - 5000, config.shutdownDelayMs + config.shutdownTimeoutMs);

/** One server: builds the app, closes it gracefully on a signal, listens. */
export async function serve(config: AppConfig): Promise<void> {
  const app = await buildApp(config);
  const inCluster = cluster.isWorker;

  closeWithGrace(
    {
      // The delay is part of the drain: SHUTDOWN_TIMEOUT_MS bounds what comes after it.
      delay: drainBoundMs(config),
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
      await drain(app, signal ?? 'error', err ? 0 : config.shutdownDelayMs);
    },
  );

  if (!inCluster) app.log.info(resourceFigures(config), 'resources');
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
    }, drainBoundMs(config) + 5000).unref();
    exitWhenAllGone();
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  log.info(resourceFigures(config), 'resources');
  log.info({ workers: config.workers }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}
