// The worker owns the wasm module and the model. It handles one request at a time (wasm-bindgen
// objects must not be re-entered while an async call is in flight) and never blocks the page.
import type * as Bindings from './pkg/multigrid_ebm.js';
import type { Trainer } from './pkg/multigrid_ebm.js';
import wasmUrl from './pkg/multigrid_ebm_bg.wasm?url';
import wasmThreadsUrl from './pkg-threads/multigrid_ebm_bg.wasm?url';
import type { BackendChoice, BenchRow, BenchRun, Envelope, LibraryOverrides, Frame, GridImages, ModelInfo, Nearest, Overrides, ProbeResult, Replies, Reply, Request } from './protocol';

/** The wasm bindings: the threaded build (scripts/build-wasm --threads) where the page is
 *  cross-origin isolated and more than one thread is wanted, else the single-threaded build. */
type Wasm = typeof Bindings & { initThreadPool?: (threads: number) => Promise<void> };
let wasm: Wasm;
/** The instance's linear memory (its size is what the wasm side holds). */
let wasmMemory: WebAssembly.Memory | null = null;
let threads = 1;
let threadsReason: string | null = null;

async function loadWasm(requested: number | null, forWebgpu: boolean) {
  const wanted = Math.max(1, Math.floor(requested ?? navigator.hardwareConcurrency ?? 1));
  if (forWebgpu) {
    threadsReason = 'the model runs on WebGPU';
  } else if (wanted > 1 && self.crossOriginIsolated) {
    try {
      const threaded = (await import('./pkg-threads/multigrid_ebm.js')) as unknown as Wasm;
      wasmMemory = (await threaded.default({ module_or_path: wasmThreadsUrl })).memory;
      await threaded.initThreadPool!(wanted);
      [wasm, threads, threadsReason] = [threaded, wanted, null];
      return;
    } catch (e) {
      threadsReason = `the threaded build failed to start (${messageOf(e)})`;
    }
  } else if (wanted <= 1) {
    threadsReason = requested === 1 ? '?threads=1' : 'the browser reports one core';
  } else {
    threadsReason = 'the page is not cross-origin isolated yet (reload once: the service worker isolates it)';
  }
  wasm = (await import('./pkg/multigrid_ebm.js')) as unknown as Wasm;
  wasmMemory = (await wasm.default({ module_or_path: wasmUrl })).memory;
  threads = 1;
}

let trainer: Trainer | null = null;
/** Names the images the trainer shows now (see `shown` in protocol.ts): bumped whenever they
 *  change. It starts at the clock so that a restarted worker never repeats an earlier value. */
let shown = Date.now();
let adapterName: string | null = null;
let fallbackReason: string | null = null;
let images: { name: string; rgba: Uint8Array; width: number; height: number }[] = [];

/** Every WebGPU device wgpu asks the browser for, so that `lose-device` can destroy them (the
 *  same as a device lost for real: the next GPU call fails and the page moves to the CPU). */
const devices: GPUDevice[] = [];
{
  const proto = (self as unknown as { GPUAdapter?: { prototype: GPUAdapter } }).GPUAdapter?.prototype;
  if (proto) {
    const requestDevice = proto.requestDevice;
    proto.requestDevice = async function (this: GPUAdapter, ...args: Parameters<GPUAdapter['requestDevice']>) {
      const device = await requestDevice.apply(this, args);
      devices.push(device);
      return device;
    };
  }
}

/** A counting layer under Burn's WebGPU backend: compute dispatches, queue submissions and
 *  buffer maps (each map is a host round trip: the worker waits for the GPU), so the page and
 *  `npm run bench -- browser` can show what one Langevin chain or update costs in GPU calls. */
const gpuCalls = { dispatches: 0, submits: 0, maps: 0, waits: 0 };
/** Maps requested in one task of the worker's event loop are waited for together: one wait. */
let mapsBatched = false;
function countCalls<T extends object>(proto: T | undefined, method: string, counter: 'dispatches' | 'submits' | 'maps') {
  const target = proto as Record<string, unknown> | undefined;
  const original = target?.[method];
  if (typeof original !== 'function') return;
  target![method] = function (this: unknown, ...args: unknown[]) {
    gpuCalls[counter]++;
    if (counter === 'maps' && !mapsBatched) {
      gpuCalls.waits++;
      mapsBatched = true;
      setTimeout(() => (mapsBatched = false), 0);
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
}
{
  const g = self as unknown as Record<string, { prototype: object } | undefined>;
  countCalls(g.GPUComputePassEncoder?.prototype, 'dispatchWorkgroups', 'dispatches');
  countCalls(g.GPUQueue?.prototype, 'submit', 'submits');
  countCalls(g.GPUBuffer?.prototype, 'mapAsync', 'maps');
}

/** Find a WebGPU adapter, or say why there is none (before Burn touches the GPU). */
async function findAdapter(): Promise<{ name: string; software: boolean } | { reason: string }> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { reason: 'this browser has no WebGPU (navigator.gpu is undefined)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { reason: 'WebGPU found no adapter (requestAdapter() returned null)' };
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unnamed adapter';
    const software = !!(info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
    return { name: software ? `${name} (software)` : name, software };
  } catch (e) {
    return { reason: `requestAdapter() failed: ${String(e)}` };
  }
}

/** A configuration with the person's settings applied and checked by the library (the CLI's
 *  flags go through the same `Config::with_overrides`); the preset decides the architecture. */
function withSettings(configJson: string, s: Overrides): string {
  const { preset: _preset, seed: _seed, ...settings } = s;
  const overrides: LibraryOverrides = settings;
  return wasm.withOverrides(configJson, JSON.stringify(overrides));
}

async function makeTrainer(backend: 'cpu' | 'webgpu', settings: Overrides, weights: ArrayBuffer | null): Promise<Trainer> {
  if (weights) {
    const t = await wasm.Trainer.fromCheckpoint(new Uint8Array(weights), backend);
    // Keep the checkpoint's architecture; apply the person's live settings on top.
    const config = JSON.parse(t.configJson());
    if (JSON.stringify(config.grids) === JSON.stringify(JSON.parse(wasm.presetConfig(settings.preset)).grids)) {
      t.setConfig(withSettings(t.configJson(), settings));
    }
    return t;
  }
  return wasm.Trainer.create(withSettings(wasm.presetConfig(settings.preset), settings), backend, BigInt(settings.seed));
}

/** Re-add the observed images to a new trainer (they live in the worker, not in the model). */
function restoreImages(t: Trainer) {
  for (const im of images) t.addImageRgba(im.name, im.rgba, im.width, im.height);
}

function info(): ModelInfo {
  const t = trainer!;
  return {
    backend: t.backend() as 'cpu' | 'webgpu',
    adapter: t.backend() === 'webgpu' ? adapterName : null,
    fallbackReason,
    config: t.configJson(),
    scales: Array.from(t.scales()),
    iteration: Number(t.iteration()),
    imageCount: t.imageCount(),
    warning: t.takeWarning() ?? null,
    threads,
    threadsReason,
  };
}

async function start(choice: BackendChoice, threadsWanted: number | null, settings: Overrides, weights: ArrayBuffer | null): Promise<ModelInfo> {
  let backend: 'cpu' | 'webgpu' = 'cpu';
  fallbackReason = null;
  if (choice === 'cpu') {
    fallbackReason = 'the CPU backend was chosen (?backend=cpu)';
  } else {
    const found = await findAdapter();
    if ('name' in found && found.software && choice === 'auto') {
      // A software rasteriser (e.g. SwiftShader) usually runs these nets slower than the wasm CPU
      // backend (reports/bench.md): the model starts on the CPU, and the page then measures
      // both (www/benchmark.ts) and moves it if WebGPU is faster after all.
      fallbackReason = `the only WebGPU adapter, ${found.name}, is a software one (the page measures it against the CPU); ?backend=webgpu uses it`;
    } else if ('name' in found) {
      backend = 'webgpu';
      adapterName = found.name;
    } else {
      fallbackReason = found.reason;
    }
  }
  // WebGPU runs in the single-threaded build (the threaded one has none: see Cargo.toml).
  await loadWasm(backend === 'webgpu' ? 1 : threadsWanted, backend === 'webgpu');
  try {
    trainer = await makeTrainer(backend, settings, weights);
  } catch (e) {
    if (backend !== 'webgpu') throw e;
    fallbackReason = `WebGPU failed to start (${messageOf(e)})`;
    backend = 'cpu';
    trainer = await makeTrainer(backend, settings, weights);
  }
  return info();
}

/** Measure a backend in this (fresh) worker: load the build it needs, then time each run. */
async function probe(backend: 'cpu' | 'webgpu', threadsWanted: number | null, runs: BenchRun[], reps: number): Promise<ProbeResult> {
  let label = '';
  if (backend === 'webgpu') {
    const found = await findAdapter();
    if (!('name' in found)) throw new Error(found.reason);
    label = `WebGPU · ${found.name}`;
  }
  await loadWasm(backend === 'webgpu' ? 1 : threadsWanted, backend === 'webgpu');
  if (backend === 'cpu') label = `CPU (wasm, ${threads} thread${threads === 1 ? '' : 's'})`;
  const rows: BenchRow[] = [];
  for (const r of runs) rows.push(JSON.parse(await wasm.bench(r.preset, r.grid, r.batch, reps, backend)));
  return { label, rows };
}

/** Images are kept at most this large on their shorter side (a model of any size re-crops them). */
const KEPT_SIDE = 1024;

/** Decode a file with the browser's own decoders, after the library has read its header and
 *  refused a size over its limits (a decompression bomb); large pictures are scaled down while
 *  decoding, so the worker keeps at most KEPT_SIDE² pixels of each. */
async function decodeImage(blob: Blob): Promise<ImageBitmap> {
  const dims = wasm.checkedImageDimensions(new Uint8Array(await blob.arrayBuffer())); // throws over the limits
  if (dims.length === 2 && Math.min(dims[0], dims[1]) > KEPT_SIDE) {
    const scale = KEPT_SIDE / Math.min(dims[0], dims[1]);
    const [w, h] = [Math.max(1, Math.round(dims[0] * scale)), Math.max(1, Math.round(dims[1] * scale))];
    return createImageBitmap(blob, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
  }
  return createImageBitmap(blob);
}

/** Decode files with the browser's own decoders; each failure is reported by name. */
async function addImages(files: { name: string; blob: Blob }[]) {
  const failed: { name: string; reason: string }[] = [];
  let added = 0;
  for (const { name, blob } of files) {
    try {
      const bitmap = await decodeImage(blob);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      const rgba = new Uint8Array(ctx.getImageData(0, 0, canvas.width, canvas.height).data.buffer);
      trainer!.addImageRgba(name, rgba, canvas.width, canvas.height);
      images.push({ name, rgba, width: canvas.width, height: canvas.height });
      added++;
    } catch (e) {
      failed.push({ name, reason: e instanceof DOMException ? 'not an image this browser can decode' : messageOf(e) });
    }
  }
  return { added, failed, imageCount: trainer!.imageCount() };
}

function gridImages(arrays: Uint8Array[], scales: number[]): GridImages[] {
  return arrays.map((rgba, i) => ({ size: scales[i], count: rgba.length / (4 * scales[i] * scales[i]), rgba }));
}

/** What the last call left to show, read back at once (one wait on a GPU): the observed
 *  images, and the synthesized ones and the kept frames where asked for. */
async function readShown(synthesized: boolean, frames: boolean): Promise<{ observed: GridImages[]; synthesized: GridImages[]; frames: Frame[] }> {
  const shown = await trainer!.readShown(synthesized, frames);
  const scales = info().scales;
  const out = {
    observed: gridImages(shown.observed, scales),
    synthesized: gridImages(shown.synthesized, scales),
    frames: shown.frames.map((f): Frame => {
      const frame = { grid: f.grid, step: f.step, rgba: f.rgba };
      f.free();
      return frame;
    }),
  };
  shown.free();
  return out;
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

async function handle(request: Request): Promise<Replies[Request['kind']]> {
  switch (request.kind) {
    case 'start':
      return start(request.backend, request.threads, request.settings, request.weights);
    case 'reset':
    case 'load-weights': {
      const loading = request.kind === 'load-weights';
      if (loading) wasm.checkpointConfig(new Uint8Array(request.bytes)); // throws on a bad file
      const backend = (trainer?.backend() as 'cpu' | 'webgpu') ?? 'cpu';
      const next = loading
        ? await wasm.Trainer.fromCheckpoint(new Uint8Array(request.bytes), backend)
        : await makeTrainer(backend, request.settings, null);
      // The images are kept as decoded RGBA, so a model of any size takes them (re-cropped).
      restoreImages(next);
      trainer?.free();
      trainer = next;
      shown++;
      return info();
    }
    case 'check-weights':
      return { config: wasm.checkpointConfig(new Uint8Array(request.bytes)) };
    case 'gpu-calls': {
      const counts = { ...gpuCalls };
      if (request.reset) Object.assign(gpuCalls, { dispatches: 0, submits: 0, maps: 0, waits: 0 });
      return counts;
    }
    case 'memory':
      return { wasmBytes: wasmMemory?.buffer.byteLength ?? 0 };
    case 'lose-device':
      devices.forEach((d) => d.destroy());
      return { destroyed: devices.length };
    case 'settings':
      trainer!.setConfig(withSettings(trainer!.configJson(), request.settings));
      return info();
    case 'add-images':
      return addImages(request.files);
    case 'clear-images':
      trainer!.clearImages();
      images = [];
      return { imageCount: 0 };
    case 'show-observed':
      trainer!.showObserved(request.n);
      return { observed: (await readShown(false, false)).observed, shown: ++shown };
    case 'learn': {
      const t0 = performance.now();
      const stats = JSON.parse(await trainer!.learn(request.frameEvery));
      const { observed, synthesized, frames } = await readShown(true, request.frameEvery > 0);
      if (!stats.rollback) shown++; // a rolled-back iteration shows nothing new
      return { ...stats, observed, synthesized, frames, seconds: (performance.now() - t0) / 1000, shown };
    }
    case 'sample': {
      const t0 = performance.now();
      await trainer!.sample(request.n, BigInt(request.seed), request.frameEvery);
      // Chain i started from observed image i's colour; none when the page has no images.
      const { observed, synthesized, frames } = await readShown(true, request.frameEvery > 0);
      return { observed, synthesized, frames, seconds: (performance.now() - t0) / 1000, shown: ++shown };
    }
    case 'export': {
      const bytes = request.format === 'bpk' ? await trainer!.exportWeights() : await trainer!.exportSafetensors();
      return { bytes: bytes.slice().buffer, iteration: Number(trainer!.iteration()) };
    }
    case 'bench':
      return JSON.parse(await wasm.bench(request.preset, request.grid, request.batch, request.reps, request.backend));
    case 'probe':
      return probe(request.backend, request.threads, request.runs, request.reps);
    case 'inpaint': {
      const error = await trainer!.inpaint(request.rgba, request.mask, request.width, request.height, request.frameEvery);
      const { observed: masked, synthesized: recovered, frames } = await readShown(true, request.frameEvery > 0);
      return { masked, recovered, frames, error, shown: ++shown };
    }
    case 'energies': {
      const numbers = async (which: 'observed' | 'synthesized') =>
        ((await trainer!.energies(which)) as Float32Array[]).map((values) => Array.from(values));
      return { observed: await numbers('observed'), synthesized: await numbers('synthesized'), shown };
    }
    case 'frame-energies':
      return { energies: ((await trainer!.frameEnergies()) as Float32Array[]).map((values) => Array.from(values)), shown };
    case 'nearest': {
      const found = await trainer!.nearestObserved(request.scale, request.index);
      const nearest: Nearest | null = found ? { index: found.index, name: found.name, rms: found.rms, rgba: found.rgba } : null;
      found?.free();
      return { nearest, shown };
    }
  }
}

/** Every ArrayBuffer in a reply, so the page receives them without a copy. */
function transferables(value: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (value instanceof ArrayBuffer) out.push(value);
  else if (ArrayBuffer.isView(value)) out.push(value.buffer as ArrayBuffer);
  else if (Array.isArray(value)) value.forEach((v) => transferables(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => transferables(v, out));
  return [...new Set(out)];
}

// One request at a time, in order.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<Envelope>) => {
  const { id, request } = event.data;
  queue = queue.then(async () => {
    let reply: Reply;
    try {
      reply = { id, ok: true, result: await handle(request) };
    } catch (e) {
      // The library's errors are named by kind (web.rs); a wasm trap is a RuntimeError.
      reply = { id, ok: false, error: messageOf(e), kind: e instanceof Error ? e.name : 'Error' };
    }
    (self as unknown as Worker).postMessage(reply, transferables(reply));
  });
};
