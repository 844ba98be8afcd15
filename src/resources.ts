/**
 * The CPU and memory this process may use: the container's limits, not the node's. Inside `--cpus=1` on a
 * 16-core node, Node 20's availableParallelism() says 16 (libuv ignores the CPU quota), and buffers and typed
 * arrays live outside V8's heap, so neither --max-old-space-size nor the machine's memory bounds what a burst
 * of large requests takes: the kernel's OOM killer does. The sizes of the worker pool, the memory budget for
 * request bodies (plugins/memory-budget.ts) and the worker threads' heap limit follow from what is read here.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

/** Where the figures come from; tests give a fake cgroup tree and a fake machine. */
export interface ResourceProbe {
  /** The cgroup filesystem's mount point. */
  readonly cgroupRoot: string;
  /** The contents of /proc/self/cgroup (which cgroup this process is in). */
  readonly selfCgroup: () => string;
  readonly availableParallelism: () => number;
  /** process.constrainedMemory(): the cgroup memory limit as libuv reads it (2^64 or 0 when there is none). */
  readonly constrainedMemory: () => number | undefined;
  readonly totalMemory: () => number;
}

export const systemProbe: ResourceProbe = {
  cgroupRoot: '/sys/fs/cgroup',
  selfCgroup: () => readFileSync('/proc/self/cgroup', 'utf8'),
  availableParallelism,
  constrainedMemory: () => process.constrainedMemory?.(),
  totalMemory: totalmem,
};

export interface Resources {
  /** Cores this process may keep busy: the CPU quota rounded up, at most the cores there are. */
  readonly cores: number;
  /** Bytes of memory before the OOM killer: the cgroup limit, or the machine's memory. */
  readonly memoryBytes: number;
  /** Whether memoryBytes is a container limit (true) or just the machine's memory. */
  readonly memoryLimited: boolean;
  /** What the figures were read from, for the start-up log line. */
  readonly source: { readonly cpu: string; readonly memory: string };
}

/** A limit of 2^60 bytes or more is the kernel's "no limit" (v1 writes 2^63 rounded down to a page). */
const noLimit = 2 ** 60;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The directories to look in for a controller's files: this process's own cgroup first (a host process in a
 * systemd slice), then the mount's root (inside a container, the cgroup namespace or the bind mount makes
 * the root the container's own cgroup).
 */
function cgroupDirs(probe: ResourceProbe, controller: string | undefined): string[] {
  let own: string | undefined;
  try {
    for (const line of probe.selfCgroup().split('\n')) {
      const [id, controllers, path] = line.split(':');
      if (path === undefined) continue;
      if (
        controller === undefined
          ? id === '0' && controllers === ''
          : controllers.split(',').includes(controller)
      )
        own = path;
    }
  } catch {
    // No /proc/self/cgroup (not Linux): only the root is tried.
  }
  const base = controller === undefined ? probe.cgroupRoot : `${probe.cgroupRoot}/${controller}`;
  const dirs = own && own !== '/' ? [`${base}${own}`, base] : [base];
  return controller === 'cpu'
    ? [...dirs, ...dirs.map((d) => d.replace(/\/cpu(?=\/|$)/, '/cpu,cpuacct'))]
    : dirs;
}

/** The CPU quota in cores (fractional), from cgroup v2 cpu.max or v1 cpu.cfs_quota_us / cfs_period_us. */
function cpuQuota(probe: ResourceProbe): { cores: number; file: string } | undefined {
  for (const dir of cgroupDirs(probe, undefined)) {
    const max = read(`${dir}/cpu.max`);
    if (max === undefined) continue;
    const [quota, period] = max.split(/\s+/);
    if (quota === 'max') return undefined;
    const cores = Number(quota) / Number(period || 100_000);
    if (cores > 0) return { cores, file: `${dir}/cpu.max` };
  }
  for (const dir of cgroupDirs(probe, 'cpu')) {
    const quota = Number(read(`${dir}/cpu.cfs_quota_us`));
    const period = Number(read(`${dir}/cpu.cfs_period_us`));
    if (!Number.isFinite(quota) || !Number.isFinite(period)) continue;
    if (quota <= 0 || period <= 0) return undefined;
    return { cores: quota / period, file: `${dir}/cpu.cfs_quota_us` };
  }
  return undefined;
}

/** The memory limit from cgroup v2 memory.max or v1 memory.limit_in_bytes. */
function cgroupMemory(probe: ResourceProbe): { bytes: number; file: string } | undefined {
  const candidates = [
    ...cgroupDirs(probe, undefined).map((d) => `${d}/memory.max`),
    ...cgroupDirs(probe, 'memory').map((d) => `${d}/memory.limit_in_bytes`),
  ];
  for (const file of candidates) {
    const text = read(file);
    if (text === undefined) continue;
    const bytes = Number(text);
    if (text === 'max' || !(bytes > 0) || bytes >= noLimit) return undefined;
    return { bytes, file };
  }
  return undefined;
}

/** Reads the CPU quota and memory limit; where there is none, the machine's cores and memory. */
export function detectResources(probe: ResourceProbe = systemProbe): Resources {
  const parallelism = Math.max(1, probe.availableParallelism());
  const quota = cpuQuota(probe);
  const cores = quota ? Math.max(1, Math.min(parallelism, Math.ceil(quota.cores))) : parallelism;

  const fromLibuv = probe.constrainedMemory();
  const fromCgroup = cgroupMemory(probe);
  const limits = [
    ...(fromLibuv !== undefined && fromLibuv > 0 && fromLibuv < noLimit ? [fromLibuv] : []),
    ...(fromCgroup ? [fromCgroup.bytes] : []),
  ];
  const memoryBytes = limits.length ? Math.min(...limits) : probe.totalMemory();
  const memorySource =
    fromCgroup && fromCgroup.bytes === memoryBytes
      ? fromCgroup.file
      : limits.length
        ? 'process.constrainedMemory()'
        : 'os.totalmem() (no memory limit)';
  return {
    cores,
    memoryBytes,
    memoryLimited: limits.length > 0,
    source: {
      cpu: quota ? `${quota.file} (${quota.cores} cores)` : 'os.availableParallelism() (no CPU quota)',
      memory: memorySource,
    },
  };
}

/**
 * Memory kept out of the budget for request bodies: node, V8's heap, the code, the threads' own heaps and
 * the answers of small requests.
 */
export const reservedMemoryBytes = 160 * 2 ** 20;

/**
 * Bytes a request takes per byte of its body while it is served: the body, its parsed numbers, the result's
 * numbers and the answer's text or buffer (a 19 MB JSON body of 1e6 numbers: 19 + 8 + 8 + 19 MB).
 */
export const memoryPerBodyByte = 4;

/**
 * The default memory budget of one process for request bodies being read and served (MEMORY_BUDGET_BYTES):
 * its share of what the limit leaves after the reserve, counted in memory (each body counts
 * memoryPerBodyByte times its size). 0 (no budget) when there is no container limit to protect.
 */
export function defaultMemoryBudget(resources: Resources, processes: number): number {
  if (!resources.memoryLimited) return 0;
  const usable = resources.memoryBytes - reservedMemoryBytes * processes;
  return Math.max(16 * 2 ** 20, Math.floor(usable / processes));
}

/**
 * V8 old-generation limit of each worker thread (node's resourceLimits), in MB: a thread parsing a runaway
 * body dies (its task answers 500) before it takes the container down. A quarter of the limit each; unset
 * without a container limit (V8's own default).
 */
export function defaultThreadHeapMb(resources: Resources): number | undefined {
  if (!resources.memoryLimited) return undefined;
  return Math.max(64, Math.floor(resources.memoryBytes / 4 / 2 ** 20));
}
