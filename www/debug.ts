// Hooks for tests and benchmarks, loaded only with ?debug=1 (scripts/bench/browser.mjs,
// scripts/soak.mjs and the end-to-end tests open the page so): the worker's wasm memory, the
// WebGPU calls counted in the worker, one grid's operations timed in the page's worker, and a
// button that destroys the WebGPU device as a lost GPU would.
import { run } from './backend';
import type { Backend, GpuCalls, Replies } from './protocol';
import { store } from './store';
import { $, message } from './ui';

export interface DebugHooks {
  multigridMemory(): Promise<Replies['memory']>;
  multigridGpuCalls(reset: boolean): Promise<GpuCalls>;
  multigridBench(preset: string, grid: number, batch: number, reps: number, backend: Backend): Promise<Replies['bench']>;
}

export function installDebug() {
  const hooks: DebugHooks = {
    multigridMemory: () => store.client.call({ kind: 'memory' }),
    multigridGpuCalls: (reset) => store.client.call({ kind: 'gpu-calls', reset }),
    multigridBench: (preset, grid, batch, reps, backend) => store.client.call({ kind: 'bench', preset, grid, batch, reps, backend }),
  };
  Object.assign(window, hooks);
  const lose = $('lose-device');
  lose.hidden = false;
  lose.onclick = async () => {
    const r = await run(() => store.client.call({ kind: 'lose-device' }));
    if (r) message(`Destroyed ${r.destroyed} WebGPU device${r.destroyed === 1 ? '' : 's'} (debug).`);
  };
}
