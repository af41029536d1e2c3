// What the worker does only for tests and benchmarks (the page's `?debug=1`): count the WebGPU
// calls Burn makes, destroy the GPU devices on request (as a lost device would), report the wasm
// memory, and time one grid's operations. Loaded before the wasm, so that the counting wraps
// the WebGPU prototypes before Burn touches them.
import type { DebugRequest, GpuCalls, Replies } from './protocol';

type Bench = (preset: string, grid: number, batch: number, reps: number, backend: string) => Promise<Replies['bench']>;

export interface Debug {
  handle(request: DebugRequest, memory: WebAssembly.Memory | null, bench: Bench): Promise<Replies[DebugRequest['kind']]>;
}

export function installDebug(): Debug {
  const devices: GPUDevice[] = [];
  const calls: GpuCalls = { dispatches: 0, submits: 0, maps: 0, waits: 0 };
  const g = self as unknown as Record<string, { prototype: Record<string, unknown> } | undefined>;

  // Every WebGPU device wgpu asks the browser for, so that `lose-device` can destroy them.
  const adapter = g.GPUAdapter?.prototype;
  const requestDevice = adapter?.requestDevice as GPUAdapter['requestDevice'] | undefined;
  if (adapter && requestDevice) {
    adapter.requestDevice = async function (this: GPUAdapter, ...args: Parameters<GPUAdapter['requestDevice']>) {
      const device = await requestDevice.apply(this, args);
      devices.push(device);
      return device;
    };
  }

  // Compute dispatches, queue submissions and buffer maps; maps requested in one task of the
  // event loop are waited for together, so they count as one wait (one host round trip).
  let mapsBatched = false;
  const count = (proto: Record<string, unknown> | undefined, method: string, counter: 'dispatches' | 'submits' | 'maps') => {
    const original = proto?.[method];
    if (typeof original !== 'function') return;
    proto![method] = function (this: unknown, ...args: unknown[]) {
      calls[counter]++;
      if (counter === 'maps' && !mapsBatched) {
        calls.waits++;
        mapsBatched = true;
        setTimeout(() => (mapsBatched = false), 0);
      }
      return original.apply(this, args);
    };
  };
  count(g.GPUComputePassEncoder?.prototype, 'dispatchWorkgroups', 'dispatches');
  count(g.GPUQueue?.prototype, 'submit', 'submits');
  count(g.GPUBuffer?.prototype, 'mapAsync', 'maps');

  return {
    async handle(request, memory, bench) {
      switch (request.kind) {
        case 'lose-device':
          devices.forEach((d) => d.destroy());
          return { destroyed: devices.length };
        case 'memory':
          return { wasmBytes: memory?.buffer.byteLength ?? 0 };
        case 'gpu-calls': {
          const counted = { ...calls };
          if (request.reset) Object.assign(calls, { dispatches: 0, submits: 0, maps: 0, waits: 0 });
          return counted;
        }
        case 'bench':
          return bench(request.preset, request.grid, request.batch, request.reps, request.backend);
      }
    },
  };
}
