/** Markdown tables of a results object (bench/results/*.json): what run.ts prints and the README shows. */
import type { CoreRow } from './core.js';
import { failuresCell } from './http.js';
import { type NetworkRow, networkMarkdown } from './network.js';
import type { BinaryRow, HttpRow, OffloadRow } from './run.js';

interface Results {
  mode: string;
  machine: { cpus: number; cpu: string; node: string; platform: string; loadAverageAtStart: number[] };
  http?: HttpRow[];
  peer?: { skipped?: string; versions?: string };
  binary?: BinaryRow[];
  network?: NetworkRow[];
  offload?: OffloadRow[];
  core?: CoreRow[];
}

const f = (x: number | undefined, digits = 1) => (x === undefined ? '' : x.toFixed(digits));
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

export function markdown(results: Results): string {
  const out: string[] = [];
  const m = results.machine;
  out.push(
    `Machine: ${m.cpus} x ${m.cpu}, ${m.platform}, Node ${m.node}; load average at start ` +
      `${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} (${results.mode} run).`,
    '',
  );
  if (results.http) {
    if (results.peer?.skipped) out.push(`FastAPI + PyTorch peer not measured: ${results.peer.skipped}.`, '');
    else if (results.peer?.versions)
      out.push(
        `Peer: FastAPI + PyTorch float64 (${results.peer.versions}; uvicorn with uvloop and httptools).`,
        '',
      );
    out.push(
      '| case | elements | service req/s | echo req/s | service/echo | peer req/s | service/peer | server CPU us/request: service / echo / peer | service/echo by CPU | service MB/s | service p50 / p99 ms | echo p50 / p99 ms | noise (service, echo) | failed |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of results.http)
      out.push(
        `| ${r.case} | ${r.elements} | ${f(r.service.rps)} | ${f(r.echo.rps)} | ${f(r.ratio, 3)} | ${f(r.peer?.rps)} | ` +
          `${r.peerRatio === undefined ? '' : `${f(r.peerRatio, 2)}x`} | ` +
          `${[r.service, r.echo, ...(r.peer ? [r.peer] : [])].map((x) => f(x.cpuUsPerRequest, 1)).join(' / ')} | ${f(r.cpuRatio, 3)} | ${f(r.service.mbps)} | ` +
          `${f(r.service.p50)} / ${f(r.service.p99)} | ${f(r.echo.p50)} / ${f(r.echo.p99)} | ${pct(r.service.noise)}, ${pct(r.echo.noise)} | ` +
          `${failuresCell(r.service, r.echo, ...(r.peer ? [r.peer] : []))} |`,
      );
    out.push('');
  }
  if (results.binary) {
    out.push(
      '| case | JSON req/s | binary req/s | binary/JSON | end to end JSON ms | end to end binary ms | end-to-end speedup |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of results.binary)
      out.push(
        `| ${r.case} | ${f(r.json.rps, 2)} | ${f(r.binary.rps, 2)} | ${f(r.binary.rps / r.json.rps)} | ` +
          `${f(r.endToEndJsonMs)} | ${f(r.endToEndBinaryMs)} | ${f(r.speedup)}x |`,
      );
    out.push('');
  }
  if (results.network) out.push(...networkMarkdown(results.network));
  if (results.offload) {
    out.push(
      '| worker pool | large stream | 16-element p50 / p99 ms alone | 16-element p50 / p99 / max ms under the stream | stream req/s | failed requests |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const r of results.offload)
      out.push(
        `| ${r.pool} | ${r.large} | ${f(r.alone.p50)} / ${f(r.alone.p99)} | ${f(r.underLoad.p50)} / ${f(r.underLoad.p99)} / ${f(r.underLoad.max)} | ${f(r.largeRps, 2)} | ${failuresCell(r.alone, r.underLoad)} |`,
      );
    out.push('');
  }
  if (results.core) {
    out.push(
      '| op | elements | ours (float64) | tfjs-backend-cpu | tfjs-backend-wasm | unit | ours/cpu |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
    );
    for (const r of results.core)
      out.push(
        `| ${r.op} | ${r.elements} | ${f(r.ours, 2)} | ${f(r.tfjsCpu, 2)} | ${f(r.tfjsWasm, 2)} | ${r.unit} | ` +
          `${r.tfjsCpu ? f(r.ours / r.tfjsCpu, 2) : ''} |`,
      );
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
