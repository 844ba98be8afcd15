// Container HEALTHCHECK probe (Dockerfile: CMD ["node", "dist/healthcheck.js"]): node is the only program
// in the runtime image that can speak HTTP, and exec form needs no shell. Exits 0 when the service answers
// GET /healthz with 200 {"status":"ok"} within the timeout, 1 otherwise.

const TIMEOUT_MS = 2000;

// The server's own config validates PORT; here a bad value just falls back to the image's default, since a
// probe that crashes on parse would read as "unhealthy" anyway.
function probePort(env: NodeJS.ProcessEnv): number {
  const port = Number(env.PORT);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : 8080;
}

async function probe(): Promise<boolean> {
  const url = `http://127.0.0.1:${probePort(process.env)}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (response.status !== 200) {
      console.error(`healthcheck: ${url} answered ${response.status}`);
      return false;
    }
    const body = (await response.json()) as { status?: unknown };
    if (body.status !== 'ok') {
      console.error(`healthcheck: ${url} answered status ${JSON.stringify(body.status)}`);
      return false;
    }
    return true;
  } catch (error) {
    console.error(`healthcheck: ${url} failed: ${(error as Error).message}`);
    return false;
  }
}

process.exitCode = (await probe()) ? 0 : 1;
