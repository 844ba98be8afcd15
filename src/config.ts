/**
 * Environment -> typed, validated configuration. Every variable is checked at start so that a typo
 * (PORT=80a, LOG_LEVEL=verbose) stops the process with a message instead of misbehaving later.
 */

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface AppConfig {
  readonly port: number;
  readonly host: string;
  readonly logLevel: LogLevel;
  /** Most numbers allowed in any one request or response tensor (413 beyond). */
  readonly maxElements: number;
  /** Most bytes allowed in a request body (413 beyond). */
  readonly bodyLimit: number;
}

export const defaultConfig: AppConfig = {
  port: 8080,
  host: '0.0.0.0',
  logLevel: 'info',
  maxElements: 1_000_000,
  bodyLimit: 33_554_432,
};

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the configuration from env; throws ConfigError listing every bad variable. */
export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined) return fallback;
    // Number('') is 0 and Number('1e3') is 1000: accept plain decimal digits only.
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
    problems.push(`${name}=${JSON.stringify(raw)} is not allowed: expected an integer from ${min} to ${max}`);
    return fallback;
  };

  const port = integer('PORT', defaultConfig.port, 0, 65535);
  const maxElements = integer('MAX_ELEMENTS', defaultConfig.maxElements, 1, Number.MAX_SAFE_INTEGER);
  const bodyLimit = integer('BODY_LIMIT', defaultConfig.bodyLimit, 1, Number.MAX_SAFE_INTEGER);

  let host = defaultConfig.host;
  if (env.HOST !== undefined) {
    if (/^[^\s/]+$/.test(env.HOST)) host = env.HOST;
    else
      problems.push(
        `HOST=${JSON.stringify(env.HOST)} is not allowed: expected a host name or IP address (non-empty, no spaces or slashes)`,
      );
  }

  let logLevel = defaultConfig.logLevel;
  if (env.LOG_LEVEL !== undefined) {
    const candidate = env.LOG_LEVEL.trim().toLowerCase();
    if ((logLevels as readonly string[]).includes(candidate)) logLevel = candidate as LogLevel;
    else
      problems.push(
        `LOG_LEVEL=${JSON.stringify(env.LOG_LEVEL)} is not allowed: expected one of ${logLevels.join(', ')}`,
      );
  }

  if (problems.length) throw new ConfigError(problems);
  return { port, host, logLevel, maxElements, bodyLimit };
}
