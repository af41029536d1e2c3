// Messages between the page and the worker that owns the wasm module. Every request gets exactly
// one reply with the same id; the worker handles requests one at a time, in order.

// The types that the library defines are generated from its Rust types (ts-rs, by `cargo test`:
// www/generated/), not written out again here.
import type { GridStats } from './generated/GridStats';
import type { Method } from './generated/Method';
import type { Overrides as LibraryOverrides } from './generated/Overrides';
import type { Row } from './generated/Row';
import type { LangevinFrame, NearestObserved } from './pkg/multigrid_ebm.js';

export type { GridStats, LibraryOverrides, Method };

export type BackendChoice = 'auto' | 'cpu' | 'webgpu';

/** Settings a person can change while a model lives (mirrored in the URL): the library's
 *  `Overrides` the page has controls for, with the preset and the seed. */
export type Settings = Required<Pick<LibraryOverrides, 'method' | 'steps' | 'delta' | 'lr' | 'batch' | 'noise'>> & { preset: string; seed: number };

/** Requests carry the settings that are set; the rest come from the preset or checkpoint. */
export type Overrides = Partial<Settings> & { preset: string; seed: number };

/** RGBA images per scale, coarse to fine (the 1×1 grid first); `count` images of `size`² each. */
export interface GridImages {
  size: number;
  count: number;
  rgba: Uint8Array;
}

/** A kept Langevin frame: the wasm API's `LangevinFrame` (declared by wasm-bindgen from the Rust
 *  struct), as a plain object that crosses postMessage. */
export type Frame = Pick<LangevinFrame, 'grid' | 'step' | 'rgba'>;

export interface ModelInfo {
  backend: 'cpu' | 'webgpu';
  /** Adapter description, when on WebGPU. */
  adapter: string | null;
  /** Why the CPU backend runs, when WebGPU was wanted or possible. */
  fallbackReason: string | null;
  config: string;
  scales: number[];
  iteration: number;
  imageCount: number;
  /** Said once about the model's file (e.g. it carried no checksum); null: nothing to say. */
  warning: string | null;
  /** Threads of the wasm CPU backend (1: the single-threaded build), and why not more. */
  threads: number;
  threadsReason: string | null;
}

export type Request =
  | { kind: 'start'; backend: BackendChoice; threads: number | null; settings: Overrides; weights: ArrayBuffer | null }
  | { kind: 'reset'; settings: Overrides }
  | { kind: 'load-weights'; bytes: ArrayBuffer }
  | { kind: 'check-weights'; bytes: ArrayBuffer }
  | { kind: 'lose-device' }
  | { kind: 'memory' }
  | { kind: 'gpu-calls'; reset: boolean }
  | { kind: 'settings'; settings: Overrides }
  | { kind: 'add-images'; files: { name: string; blob: Blob }[] }
  | { kind: 'clear-images' }
  | { kind: 'show-observed'; n: number }
  | { kind: 'learn'; frameEvery: number }
  | { kind: 'sample'; n: number; seed: number; frameEvery: number }
  | { kind: 'export'; format: 'bpk' | 'safetensors' }
  | { kind: 'bench'; preset: string; grid: number; batch: number; reps: number; backend: 'cpu' | 'webgpu' }
  | { kind: 'probe'; backend: 'cpu' | 'webgpu'; threads: number | null; runs: BenchRun[]; reps: number }
  | { kind: 'inpaint'; rgba: Uint8Array; mask: Uint8Array; width: number; height: number; frameEvery: number }
  | { kind: 'energies' }
  | { kind: 'nearest'; scale: number; index: number }
  | { kind: 'frame-energies' };

/** The observed image nearest a synthesized one: the wasm API's `NearestObserved`, as a plain
 *  object (rms in grey levels; rgba: the observed image at that grid, size² × 4 bytes). */
export type Nearest = Pick<NearestObserved, 'index' | 'name' | 'rms' | 'rgba'>;

export interface Replies {
  start: ModelInfo;
  reset: ModelInfo;
  'load-weights': ModelInfo;
  /** The checkpoint's configuration JSON, if the library accepts the file (it throws otherwise). */
  'check-weights': { config: string };
  /** How many WebGPU devices were destroyed (for testing device loss, under ?debug=1). */
  'lose-device': { destroyed: number };
  /** The size of the wasm instance's memory (scripts/soak.mjs samples it). */
  memory: { wasmBytes: number };
  /** WebGPU calls since the last reset (counted under Burn in the worker; all 0 on the CPU). */
  'gpu-calls': { dispatches: number; submits: number; maps: number; waits: number };
  settings: ModelInfo;
  'add-images': { added: number; failed: { name: string; reason: string }[]; imageCount: number };
  'clear-images': { imageCount: number };
  // `shown` (in every reply that changes the images the trainer shows: show-observed, learn,
  // sample, inpaint) names those images; `energies` and `nearest` say which ones they are for.
  'show-observed': { observed: GridImages[]; shown: number };
  learn: {
    iteration: number;
    grids: GridStats[];
    /** Present when the iteration diverged and the guard rolled the model back to iteration `to`. */
    rollback?: { reason: string; to: number; lr: number };
    /** The divergence guard's warning about the learning so far (energies that have split). */
    warning?: string | null;
    observed: GridImages[];
    synthesized: GridImages[];
    frames: Frame[];
    seconds: number;
    shown: number;
  };
  /** `observed`: the pyramid of the observed images the chains started from (image i's colour
   *  started chain i), or [] when the page has none: the chains then start from colours of the
   *  model's training images, which are not in the page. */
  sample: { observed: GridImages[]; synthesized: GridImages[]; frames: Frame[]; seconds: number; shown: number };
  export: { bytes: ArrayBuffer; iteration: number };
  bench: BenchRow;
  /** A fresh worker's backend, measured (see www/benchmark.ts). */
  probe: ProbeResult;
  inpaint: { masked: GridImages[]; recovered: GridImages[]; frames: Frame[]; error: number; shown: number };
  /** f(I) of the shown images under each grid's net, per scale coarse to fine ([] for the 1×1
   *  scale, which has no net, and where nothing is shown), in the order they are shown. */
  energies: { observed: number[][]; synthesized: number[][]; shown: number };
  /** Null when the page has no observed images. */
  nearest: { nearest: Nearest | null; shown: number };
  /** f(I) of every kept Langevin frame's images (per frame, per image), for the shown images `shown`. */
  'frame-energies': { energies: number[][]; shown: number };
}

/** One row of `multigrid bench`: one grid's net at one batch size on one backend (medians, ms). */
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
