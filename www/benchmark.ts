// The backends this browser can run, measured side by side: each in a worker of its own (the
// threaded CPU build and the WebGPU build are different wasm modules), timing forward, Langevin
// step and update of one grid's net (`multigrid bench`'s row, through the library's `bench`).
// Used once at start-up to pick the faster backend, and by the Benchmark panel on demand.
import { WorkerClient } from './client';
import { LIMITS, within } from './limits';
import type { Backend, BenchRow, BenchRun, ProbeResult, RemoteServer } from './protocol';

/** One backend's figures, or why it could not be measured. */
export interface Measured {
  backend: Backend;
  label: string;
  rows: BenchRow[];
  error: string | null;
}

/** Measure `runs` on each backend in a fresh worker of its own, one backend after the other (so
 *  they do not share the cores), and close the workers. `threads`: the CPU pool size (null: every
 *  core). Never throws: a backend that fails says why. */
export async function measureBackends(
  backends: Backend[],
  runs: BenchRun[],
  reps: number,
  threads: number | null,
  remote: RemoteServer | null = null,
): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const backend of backends) {
    const worker = new WorkerClient();
    try {
      const r: ProbeResult = await within(worker.call({ kind: 'probe', backend, remote, threads, runs, reps }), LIMITS.probe, `measuring ${backend}`);
      out.push({ backend, label: r.label, rows: r.rows, error: null });
    } catch (e) {
      const label = { cpu: 'CPU (wasm)', webgpu: 'WebGPU', remote: 'Remote' }[backend];
      out.push({ backend, label, rows: [], error: e instanceof Error ? e.message : String(e) });
    } finally {
      worker.terminate();
    }
  }
  return out;
}

/** The backend whose first run's Langevin step is fastest (null when none was measured). */
export function fastest(measured: Measured[]): Measured | null {
  const ok = measured.filter((m) => m.rows.length > 0);
  if (ok.length === 0) return null;
  return ok.reduce((a, b) => (b.rows[0].langevin_step_ms < a.rows[0].langevin_step_ms ? b : a));
}

/** "CPU (wasm, 2 threads) 12.3 ms · WebGPU · SwiftShader 80.1 ms per Langevin step" */
export function summary(measured: Measured[]): string {
  const parts = measured.map((m) => (m.rows.length > 0 ? `${m.label} ${m.rows[0].langevin_step_ms.toFixed(1)} ms` : `${m.label}: ${m.error}`));
  return `${parts.join(' · ')} per Langevin step`;
}

/** The runs of the panel: the finest grid at the page's preset and batch, and the paper nets'
 *  grids at batch 16 (forward, Langevin step and update each). */
export function panelRuns(preset: string, finest: number, batch: number, paper: boolean): BenchRun[] {
  const runs: BenchRun[] = [{ preset, grid: finest, batch }];
  if (paper && preset !== 'paper') runs.push({ preset: 'paper', grid: 64, batch: 16 });
  return runs;
}

/** The Benchmark panel: a button that re-runs the comparison, a table and the figures as JSON. */
export class BenchmarkPanel {
  private last: Measured[] = [];
  private runs: BenchRun[] = [];

  constructor(
    private root: HTMLElement,
    private settings: () => { preset: string; finest: number; batch: number; threads: number | null; backends: Backend[] },
    private before: () => Promise<void>,
  ) {
    root.querySelector<HTMLButtonElement>('#bench-run')!.onclick = () => void this.run();
    root.querySelector<HTMLButtonElement>('#bench-json')!.onclick = () => this.download();
  }

  async run() {
    const button = this.root.querySelector<HTMLButtonElement>('#bench-run')!;
    const status = this.root.querySelector<HTMLElement>('#bench-status')!;
    const s = this.settings();
    button.disabled = true;
    status.textContent = `measuring ${s.backends.join(' and ')}…`;
    try {
      await this.before();
      const started = performance.now();
      const paper = this.root.querySelector<HTMLInputElement>('#bench-paper')!.checked;
      this.runs = panelRuns(s.preset, s.finest, s.batch, paper);
      this.last = await measureBackends(s.backends, this.runs, 3, s.threads);
      this.render();
      status.textContent = `measured in ${((performance.now() - started) / 1000).toFixed(1)} s (median of 3 each)`;
      this.root.dataset.measured = String(Number(this.root.dataset.measured ?? 0) + 1);
    } finally {
      button.disabled = false;
    }
  }

  private render() {
    const body = this.root.querySelector<HTMLTableSectionElement>('#bench-table tbody')!;
    body.replaceChildren();
    for (const m of this.last) {
      if (m.rows.length === 0) {
        const tr = body.insertRow();
        tr.dataset.backend = m.backend;
        tr.insertCell().textContent = m.label;
        const cell = tr.insertCell();
        cell.colSpan = 5;
        cell.textContent = `not measured: ${m.error}`;
        continue;
      }
      for (const [i, row] of m.rows.entries()) {
        const tr = body.insertRow();
        tr.dataset.backend = m.backend;
        for (const text of [
          m.label,
          `${this.runs[i]?.preset ?? ''} grid ${row.grid}, batch ${row.batch}`,
          row.forward_ms.toFixed(1),
          row.langevin_step_ms.toFixed(1),
          row.update_ms.toFixed(1),
          row.gflops.toFixed(2),
        ])
          tr.insertCell().textContent = text;
      }
    }
    this.root.querySelector<HTMLButtonElement>('#bench-json')!.disabled = this.last.length === 0;
  }

  /** The figures as JSON, with what identifies the hardware, for people to report. */
  private download() {
    const report = {
      page: location.href,
      userAgent: navigator.userAgent,
      hardwareConcurrency: navigator.hardwareConcurrency,
      crossOriginIsolated: self.crossOriginIsolated,
      measuredAt: new Date().toISOString(),
      backends: this.last,
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'multigrid-ebm-benchmark.json';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
