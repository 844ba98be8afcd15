/**
 * The counts behind Triton's statistics extension (GET /v2/models[/{name}[/versions/{v}]]/stats): per model,
 * its inference requests that succeeded and failed, each with their count and total time in ns, and when the
 * last one arrived. /metrics keeps its latency per route, and every model shares the one infer route: these are
 * kept per model, by the infer routes' onResponse hook. A request is one execution of one inference (no
 * batching across requests here), so inference_count and execution_count are both the successful requests.
 */
import type { Model } from './v2-models.js';

export interface DurationStat {
  count: number;
  ns: number;
}

interface Counts {
  lastInference: number;
  success: DurationStat;
  fail: DurationStat;
}

/** One app's counts (tests build several apps in one process). */
export class ModelStatistics {
  private readonly byModel = new Map<string, Counts>();

  /** One inference request of `model`, answered with `status` after `ns` nanoseconds. */
  record(model: string, status: number, ns: number): void {
    let counts = this.byModel.get(model);
    if (!counts) {
      counts = { lastInference: 0, success: { count: 0, ns: 0 }, fail: { count: 0, ns: 0 } };
      this.byModel.set(model, counts);
    }
    counts.lastInference = Date.now();
    const stat = status < 400 ? counts.success : counts.fail;
    stat.count++;
    stat.ns += Math.round(ns);
  }

  /** Triton's $model_stat of each model, in the order given. */
  render(models: readonly Model[], version: string) {
    return models.map((model) => {
      const counts = this.byModel.get(model.name);
      const success = { ...(counts?.success ?? { count: 0, ns: 0 }) };
      return {
        name: model.name,
        version,
        last_inference: counts?.lastInference ?? 0,
        inference_count: success.count,
        execution_count: success.count,
        inference_stats: { success, fail: { ...(counts?.fail ?? { count: 0, ns: 0 }) } },
        batch_stats: [],
      };
    });
  }
}
