// The worker owns the wasm module and the model's session. It handles one request at a time
// (wasm-bindgen objects must not be re-entered while an async call is in flight) and never
// blocks the page. It converts, and decides nothing the library decides.
import type * as Bindings from './pkg/multigrid_ebm.js';
import type { Session } from './pkg/multigrid_ebm.js';
import wasmUrl from './pkg/multigrid_ebm_bg.wasm?url';
import wasmThreadsUrl from './pkg-threads/multigrid_ebm_bg.wasm?url';
import type { Backend, BackendChoice, BenchRun, Choice, Envelope, Frame, GridImages, ModelInfo, ProbeResult, RemoteServer, Replies, Reply, Request } from './protocol';
import { LIMITS, within } from './limits';
import type { Debug } from './worker-debug';

/** The wasm bindings: the threaded build (scripts/build-wasm --threads) where the page is
 *  cross-origin isolated and more than one thread is wanted, else the single-threaded build. */
type Wasm = typeof Bindings & { initThreadPool?: (threads: number) => Promise<void> };

/** Everything the worker holds. */
const state = {
  wasm: null as Wasm | null,
  /** The instance's linear memory (its size is what the wasm side holds). */
  memory: null as WebAssembly.Memory | null,
  threads: 1,
  threadsReason: null as string | null,
  session: null as Session | null,
  /** Names the images the session shows now (see `shown` in protocol.ts): bumped whenever they
   *  change. It starts at the clock so that a restarted worker never repeats an earlier value. */
  shown: Date.now(),
  adapter: null as string | null,
  /** The server's address, when the model runs on its device. */
  remote: null as string | null,
  fallbackReason: null as string | null,
  /** The observed images as decoded RGBA, to give a new session (a model of any size re-crops). */
  images: [] as { name: string; rgba: Uint8Array; width: number; height: number }[],
  debug: null as Debug | null,
  /** The requests in order: each runs once the one before has replied. */
  queue: Promise.resolve(),
};

const wasm = (): Wasm => state.wasm!;
const session = (): Session => state.session!;

/** Tell the page which step of start-up this worker is on, and how long it may take: the page
 *  shows it, and if the step overruns (a step that blocks this worker's thread cannot time itself
 *  out) gives this worker up for one that starts otherwise. */
function progress(step: string, limit: number | null = null) {
  (self as unknown as Worker).postMessage({ progress: step, limit });
}

/** Load the wasm build `backend` needs: WebGPU and the remote client are in the single-threaded
 *  build only (see Cargo.toml), so `requested` threads count only for the CPU backend. */
async function loadWasm(requested: number | null, backend: Backend) {
  const wanted = Math.max(1, Math.floor(requested ?? navigator.hardwareConcurrency ?? 1));
  if (backend !== 'cpu') {
    state.threadsReason = backend === 'webgpu' ? 'the model runs on WebGPU' : 'the model runs on the remote device';
  } else if (wanted > 1 && self.crossOriginIsolated) {
    try {
      progress('loading the threaded build', LIMITS.threads);
      const threaded = await within(import('./pkg-threads/multigrid_ebm.js') as Promise<unknown> as Promise<Wasm>, LIMITS.threads, 'loading the threaded build');
      progress('compiling the threaded build', LIMITS.threads);
      state.memory = (await within(threaded.default({ module_or_path: wasmThreadsUrl }), LIMITS.threads, 'compiling the threaded build')).memory;
      progress(`starting the thread pool (${wanted} threads)`, LIMITS.threads);
      await within(threaded.initThreadPool!(wanted), LIMITS.threads, 'the thread pool');
      [state.wasm, state.threads, state.threadsReason] = [threaded, wanted, null];
      return;
    } catch (e) {
      state.threadsReason = `the threaded build failed to start (${messageOf(e)})`;
    }
  } else if (wanted <= 1) {
    state.threadsReason = requested === 1 ? '?threads=1' : 'the browser reports one core';
  } else {
    state.threadsReason = 'the page is not cross-origin isolated yet (reload once: the service worker isolates it)';
  }
  progress('loading the wasm');
  const single = (await import('./pkg/multigrid_ebm.js')) as unknown as Wasm;
  state.memory = (await single.default({ module_or_path: wasmUrl })).memory;
  [state.wasm, state.threads] = [single, 1];
}

/** Find a WebGPU adapter, or say why there is none (before Burn touches the GPU). */
async function findAdapter(): Promise<{ name: string; software: boolean } | { reason: string }> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { reason: 'this browser has no WebGPU (navigator.gpu is undefined)' };
  try {
    progress('asking for a WebGPU adapter', LIMITS.adapter);
    const adapter = await within(gpu.requestAdapter(), LIMITS.adapter, 'requestAdapter()');
    if (!adapter) return { reason: 'WebGPU found no adapter (requestAdapter() returned null)' };
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unnamed adapter';
    const software = !!(info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
    return { name: software ? `${name} (software)` : name, software };
  } catch (e) {
    return { reason: e instanceof Error && e.name === 'TimeoutError' ? e.message : `requestAdapter() failed: ${String(e)}` };
  }
}

/** A session from checkpoint bytes (with the person's settings over it), or a new model. */
async function makeSession(backend: Backend, choice: Choice, weights: ArrayBuffer | null): Promise<Session> {
  if (!weights) return wasm().Session.create(choice.preset, choice.overrides, backend, BigInt(choice.seed));
  const s = await wasm().Session.fromCheckpoint(new Uint8Array(weights), backend);
  s.apply(choice.overrides);
  return s;
}

/** Replace the session, giving the new one the observed images; the old one is freed only once
 *  the new one exists, so a bad file keeps the current model. */
function replaceSession(next: Session) {
  for (const im of state.images) next.addImageRgba(im.name, im.rgba, im.width, im.height);
  state.session?.free();
  state.session = next;
  state.shown++;
}

function info(): ModelInfo {
  const s = session();
  const backend = s.backend() as Backend;
  return {
    ...s.summary(),
    backend,
    adapter: backend === 'webgpu' ? state.adapter : null,
    remote: backend === 'remote' ? state.remote : null,
    fallbackReason: state.fallbackReason,
    threads: state.threads,
    threadsReason: state.threadsReason,
  };
}

/** Connect this worker's wasm to a `multigrid serve` server (its device is then "remote"). */
async function connect(server: RemoteServer | null) {
  if (!server) throw new Error('no server to connect to: give its address and token');
  progress(`connecting to ${server.address}`, LIMITS.remote);
  await within(wasm().connectRemote(server.address, server.token), LIMITS.remote, `connecting to ${server.address}`);
  state.remote = server.address;
}

async function start(choice: BackendChoice, server: RemoteServer | null, threads: number | null, debug: boolean, model: Choice, weights: ArrayBuffer | null): Promise<ModelInfo> {
  if (debug) state.debug ??= (await import('./worker-debug')).installDebug();
  state.fallbackReason = null;
  if (choice === 'remote') {
    // A failure here leaves the page's model where it was (www/backend.ts moves it back).
    await loadWasm(threads, 'remote');
    await connect(server);
    progress('starting the model on the remote device', LIMITS.remote);
    replaceSession(await within(makeSession('remote', model, weights), LIMITS.remote, 'the remote device'));
    return info();
  }
  let backend: Backend = 'cpu';
  if (choice === 'cpu') {
    state.fallbackReason = 'the CPU backend was chosen (?backend=cpu)';
  } else {
    const found = await findAdapter();
    if ('name' in found && found.software && choice === 'auto') {
      // A software rasteriser usually runs these nets slower than the wasm CPU backend: the
      // model starts on the CPU, and the page measures both and moves it if WebGPU is faster.
      state.fallbackReason = `the only WebGPU adapter, ${found.name}, is a software one (the page measures it against the CPU); ?backend=webgpu uses it`;
    } else if ('name' in found) {
      backend = 'webgpu';
      state.adapter = found.name;
    } else {
      state.fallbackReason = found.reason;
    }
  }
  // WebGPU runs in the single-threaded build (the threaded one has none: see Cargo.toml).
  await loadWasm(threads, backend);
  try {
    progress(backend === 'webgpu' ? 'starting the model on WebGPU' : 'starting the model', backend === 'webgpu' ? LIMITS.device : null);
    const starting = makeSession(backend, model, weights);
    replaceSession(backend === 'webgpu' ? await within(starting, LIMITS.device, 'the WebGPU device') : await starting);
  } catch (e) {
    if (backend !== 'webgpu') throw e;
    state.fallbackReason = `WebGPU failed to start (${messageOf(e)})`;
    progress('starting the model on the CPU backend');
    replaceSession(await makeSession('cpu', model, weights));
  }
  return info();
}

/** Measure a backend in this (fresh) worker: load the build it needs, then time each run. */
async function probe(backend: Backend, server: RemoteServer | null, threads: number | null, runs: BenchRun[], reps: number): Promise<ProbeResult> {
  let label = '';
  if (backend === 'webgpu') {
    const found = await findAdapter();
    if (!('name' in found)) throw new Error(found.reason);
    label = `WebGPU · ${found.name}`;
  }
  await loadWasm(threads, backend);
  if (backend === 'remote') {
    await connect(server);
    label = `Remote · ${server!.address}`;
  }
  if (backend === 'cpu') label = `CPU (wasm, ${state.threads} thread${state.threads === 1 ? '' : 's'})`;
  const rows = [];
  for (const r of runs) rows.push(await wasm().bench(r.preset, r.grid, r.batch, reps, backend));
  return { label, rows };
}

/** Decode a file with the browser's own decoders, at the size the library says (it reads the
 *  header first and refuses a size over its limits, a decompression bomb; large pictures are
 *  scaled down while decoding). */
async function decodeImage(blob: Blob): Promise<ImageBitmap> {
  const size = wasm().decodeSize(new Uint8Array(await blob.arrayBuffer())); // throws over the limits
  if (size.length === 2) return createImageBitmap(blob, { resizeWidth: size[0], resizeHeight: size[1], resizeQuality: 'high' });
  return createImageBitmap(blob);
}

/** Decode files with the browser's own decoders; each failure is reported by name. */
async function addImages(files: { name: string; blob: Blob }[]): Promise<Replies['add-images']> {
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
      session().addImageRgba(name, rgba, canvas.width, canvas.height);
      state.images.push({ name, rgba, width: canvas.width, height: canvas.height });
      added++;
    } catch (e) {
      failed.push({ name, reason: e instanceof DOMException ? 'not an image this browser can decode' : messageOf(e) });
    }
  }
  return { added, failed, imageCount: session().imageCount() };
}

/** What the last call left to show, read back at once (one wait on a GPU): the observed
 *  images, and the synthesized ones and the kept frames where asked for. */
async function readShown(synthesized: boolean, frames: boolean): Promise<{ observed: GridImages[]; synthesized: GridImages[]; frames: Frame[] }> {
  const shown = await session().readShown(synthesized, frames);
  const scales = session().summary().scales;
  const images = (arrays: Uint8Array[]) => arrays.map((rgba, i) => ({ size: scales[i], count: rgba.length / (4 * scales[i] * scales[i]), rgba }));
  const out = {
    observed: images(shown.observed),
    synthesized: images(shown.synthesized),
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
  return e instanceof Error ? e.message : String(e);
}

async function handle(request: Request): Promise<Replies[Request['kind']]> {
  switch (request.kind) {
    case 'start':
      return start(request.backend, request.remote, request.threads, request.debug, request.choice, request.weights);
    case 'reset':
      replaceSession(await makeSession((session().backend() as Backend) ?? 'cpu', request.choice, null));
      return info();
    case 'load-weights':
      replaceSession(await wasm().Session.fromCheckpoint(new Uint8Array(request.bytes), session().backend()));
      return info();
    case 'check-weights':
      return { config: wasm().checkpointConfig(new Uint8Array(request.bytes)) };
    case 'apply':
      session().apply(request.overrides);
      return info();
    case 'add-images':
      return addImages(request.files);
    case 'add-rgba': {
      const failed: { name: string; reason: string }[] = [];
      for (const im of request.images) {
        try {
          session().addImageRgba(im.name, im.rgba, im.width, im.height);
          state.images.push(im);
        } catch (e) {
          failed.push({ name: im.name, reason: messageOf(e) });
        }
      }
      return { added: request.images.length - failed.length, failed, imageCount: session().imageCount() };
    }
    case 'clear-images':
      session().clearImages();
      state.images = [];
      return { imageCount: 0 };
    case 'show-observed':
      session().showObserved(request.n);
      return { observed: (await readShown(false, false)).observed, shown: ++state.shown };
    case 'learn': {
      const t0 = performance.now();
      const step = await session().step(request.frameEvery);
      if (step.event !== 'learned') {
        // Nothing new to show; after a rollback the configuration's learning rate is lower.
        const config = step.event === 'rollback' ? session().summary().config : null;
        return { step, config, observed: [], synthesized: [], frames: [], seconds: (performance.now() - t0) / 1000, shown: state.shown };
      }
      const { observed, synthesized, frames } = await readShown(true, request.frameEvery > 0);
      return { step, config: null, observed, synthesized, frames, seconds: (performance.now() - t0) / 1000, shown: ++state.shown };
    }
    case 'sample': {
      const t0 = performance.now();
      await session().sample(request.n, BigInt(request.seed), request.frameEvery);
      // Chain i started from observed image i's colour; none when the page has no images.
      const { observed, synthesized, frames } = await readShown(true, request.frameEvery > 0);
      return { observed, synthesized, frames, seconds: (performance.now() - t0) / 1000, shown: ++state.shown };
    }
    case 'export': {
      const bytes = await session().export(request.format);
      return { bytes: bytes.slice().buffer, iteration: Number(session().iteration()) };
    }
    case 'probe':
      return probe(request.backend, request.remote, request.threads, request.runs, request.reps);
    case 'mask':
      return { mask: wasm().occlusionMask(request.mask, request.size, BigInt(request.seed)) };
    case 'inpaint': {
      const error = await session().inpaint(request.rgba, request.mask, request.width, request.height, request.frameEvery);
      const { observed: masked, synthesized: recovered, frames } = await readShown(true, request.frameEvery > 0);
      return { masked, recovered, frames, error, shown: ++state.shown };
    }
    case 'energies':
      return { observed: await session().energies('observed'), synthesized: await session().energies('synthesized'), shown: state.shown };
    case 'frame-energies':
      return { energies: await session().frameEnergies(), shown: state.shown };
    case 'nearest': {
      const found = await session().nearestObserved(request.scale, request.index);
      const nearest = found ? { index: found.index, name: found.name, rms: found.rms, rgba: found.rgba } : null;
      found?.free();
      return { nearest, shown: state.shown };
    }
    default:
      if (!state.debug) throw new Error(`'${request.kind}' is a debugging request: open the page with ?debug=1`);
      return state.debug.handle(request, state.memory, (preset, grid, batch, reps, backend) => wasm().bench(preset, grid, batch, reps, backend));
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
self.onmessage = (event: MessageEvent<Envelope>) => {
  const { id, request } = event.data;
  state.queue = state.queue.then(async () => {
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
