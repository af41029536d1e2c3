// Messages between the page and the worker that owns the wasm module. Every request gets exactly
// one reply with the same id; the worker handles requests one at a time, in order.

// The library's own types are generated from its Rust types (ts-rs, by `cargo test`:
// www/generated/), not written out again here.
import type { Config } from './generated/Config';
import type { Format } from './generated/Format';
import type { GridStats } from './generated/GridStats';
import type { Method } from './generated/Method';
import type { Overrides } from './generated/Overrides';
import type { Row } from './generated/Row';
import type { Step } from './generated/Step';
import type { Summary } from './generated/Summary';
import type { PackedImage } from './packs';
import type { LangevinFrame, NearestObserved } from './pkg/multigrid_ebm.js';

export type { Config, Format, GridStats, Method, Overrides, Step };

/** Where the model runs: the wasm CPU backend, the browser's WebGPU, or a `multigrid serve`
 *  server's device (the page's Remote GPU). */
export type Backend = 'cpu' | 'webgpu' | 'remote';
export type BackendChoice = 'auto' | Backend;

/** A `multigrid serve --transport iroh` server: its address (`iroh:ID` or `iroh:ID?relay=URL`)
 *  and token. The token stays in memory: never in the address bar or in storage. */
export interface RemoteServer {
  address: string;
  token: string;
}

/** Which model a page makes: a preset's nets initialised from a seed, with settings over the
 *  preset's (only those the person set: the rest are the preset's or the checkpoint's). */
export interface Choice {
  preset: string;
  seed: number;
  overrides: Overrides;
}

/** RGBA images per scale, coarse to fine (the 1×1 grid first); `count` images of `size`² each. */
export interface GridImages {
  size: number;
  count: number;
  rgba: Uint8Array;
}

/** A kept Langevin frame: the wasm API's `LangevinFrame`, as a plain object that crosses
 *  postMessage. */
export type Frame = Pick<LangevinFrame, 'grid' | 'step' | 'rgba'>;

/** The model the worker holds (the library's `Summary`), and where it runs. */
export interface ModelInfo extends Summary {
  backend: Backend;
  /** Adapter description, when on WebGPU. */
  adapter: string | null;
  /** The server's address, when on a remote device. */
  remote: string | null;
  /** Why the CPU backend runs, when WebGPU was wanted or possible. */
  fallbackReason: string | null;
  /** Threads of the wasm CPU backend (1: the single-threaded build), and why not more. */
  threads: number;
  threadsReason: string | null;
}

export type Request =
  | { kind: 'start'; backend: BackendChoice; remote: RemoteServer | null; threads: number | null; debug: boolean; choice: Choice; weights: ArrayBuffer | null }
  | { kind: 'reset'; choice: Choice }
  | { kind: 'load-weights'; bytes: ArrayBuffer }
  | { kind: 'check-weights'; bytes: ArrayBuffer }
  | { kind: 'apply'; overrides: Overrides }
  | { kind: 'add-images'; files: { name: string; blob: Blob }[] }
  /** Images as RGBA (a bundled dataset's, cut from its pack by the page). */
  | { kind: 'add-rgba'; images: PackedImage[] }
  | { kind: 'clear-images' }
  | { kind: 'show-observed'; n: number }
  | { kind: 'learn'; frameEvery: number }
  | { kind: 'sample'; n: number; seed: number; frameEvery: number }
  | { kind: 'export'; format: Format }
  | { kind: 'probe'; backend: Backend; remote: RemoteServer | null; threads: number | null; runs: BenchRun[]; reps: number }
  | { kind: 'mask'; mask: string; size: number; seed: number }
  | { kind: 'inpaint'; rgba: Uint8Array; mask: Uint8Array; width: number; height: number; frameEvery: number }
  | { kind: 'energies' }
  | { kind: 'nearest'; scale: number; index: number }
  | { kind: 'frame-energies' }
  | DebugRequest;

/** Requests for tests and benchmarks, answered where the worker started with `debug`. */
export type DebugRequest =
  | { kind: 'lose-device' }
  | { kind: 'memory' }
  | { kind: 'gpu-calls'; reset: boolean }
  | { kind: 'bench'; preset: string; grid: number; batch: number; reps: number; backend: Backend };

/** WebGPU calls counted under Burn in the worker (all 0 on the CPU). */
export interface GpuCalls {
  dispatches: number;
  submits: number;
  maps: number;
  /** Host round trips: maps requested in one task of the worker's event loop are one wait. */
  waits: number;
}

export interface Replies {
  start: ModelInfo;
  reset: ModelInfo;
  'load-weights': ModelInfo;
  /** The checkpoint's configuration, if the library accepts the file (it throws otherwise). */
  'check-weights': { config: Config };
  /** The model with the settings applied (the library refuses what it does not accept). */
  apply: ModelInfo;
  'add-images': { added: number; failed: { name: string; reason: string }[]; imageCount: number };
  'add-rgba': Replies['add-images'];
  'clear-images': { imageCount: number };
  // `shown` (in every reply that changes the images the session shows: show-observed, learn,
  // sample, inpaint) names those images; `energies` and `nearest` say which ones they are for.
  'show-observed': { observed: GridImages[]; shown: number };
  /** One learning step; the images when it learned, and the configuration when the guard rolled
   *  back (its learning rate is lower). */
  learn: { step: Step; config: Config | null; observed: GridImages[]; synthesized: GridImages[]; frames: Frame[]; seconds: number; shown: number };
  /** `observed`: the pyramid of the observed images the chains started from (image i's colour
   *  started chain i), or [] when the page has none: the chains then start from colours of the
   *  model's training images, which are not in the page. */
  sample: { observed: GridImages[]; synthesized: GridImages[]; frames: Frame[]; seconds: number; shown: number };
  export: { bytes: ArrayBuffer; iteration: number };
  /** A fresh worker's backend, measured (see www/benchmark.ts). */
  probe: ProbeResult;
  /** One byte per pixel, 1 = occluded. */
  mask: { mask: Uint8Array };
  inpaint: { masked: GridImages[]; recovered: GridImages[]; frames: Frame[]; error: number; shown: number };
  /** f(I) of the shown images under each grid's net, per scale coarse to fine ([] for the 1×1
   *  scale, which has no net, and where nothing is shown), in the order they are shown. */
  energies: { observed: number[][]; synthesized: number[][]; shown: number };
  /** Null when the page has no observed images. */
  nearest: { nearest: Nearest | null; shown: number };
  /** f(I) of every kept Langevin frame's images (per frame, per image), for the shown images `shown`. */
  'frame-energies': { energies: number[][]; shown: number };
  /** How many WebGPU devices were destroyed (device loss, for tests). */
  'lose-device': { destroyed: number };
  /** The size of the wasm instance's memory (scripts/soak.mjs samples it). */
  memory: { wasmBytes: number };
  'gpu-calls': GpuCalls;
  bench: BenchRow;
}

/** The observed image nearest a synthesized one: the wasm API's `NearestObserved`, as a plain
 *  object (rms in grey levels; rgba: the observed image at that grid, size² × 4 bytes). */
export type Nearest = Pick<NearestObserved, 'index' | 'name' | 'rms' | 'rgba'>;

/** One row of `multigrid bench` (`bench::Row`): one grid's net at one batch size on one
 *  backend (medians, ms). */
export type BenchRow = Row;

/** What to time: grid `grid` (its size) of a preset's nets at `batch`. */
export interface BenchRun {
  preset: string;
  grid: number;
  batch: number;
}

export interface ProbeResult {
  /** The backend as the badge names it, e.g. "CPU (wasm, 2 threads)" or "WebGPU · SwiftShader". */
  label: string;
  rows: BenchRow[];
}

export type RequestOf<K extends Request['kind']> = Extract<Request, { kind: K }>;

export interface Envelope {
  id: number;
  request: Request;
}

export type Reply =
  | { id: number; ok: true; result: Replies[Request['kind']] }
  | { id: number; ok: false; error: string; kind: string };

/** Kinds of the library's errors (`Error::kind` in src/lib.rs) that are about the input or the
 *  learning: the model and its device are still fine. Any other kind (DeviceError, a wasm trap's
 *  RuntimeError, ...) means the backend failed. */
export const INPUT_ERROR_KINDS = new Set(['ConfigError', 'DataError', 'CheckpointError', 'DivergedError', 'UnstableError', 'IoError']);
