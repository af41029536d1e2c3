// The page's run state, in one place: every module that changes what the page is doing changes
// it here, and nothing else at module level is mutable.
import type { WorkerClient } from './client';
import { readUrl } from './address';
import type { NamedBlob } from './images';
import type { Packs } from './generated/Packs';
import type { Backend, ModelInfo, RemoteServer } from './protocol';

export const store = {
  /** What the address bar asked for when the page opened (its dataset may change to "own"). */
  url: readUrl(),
  /** The worker that holds the model (made at start by `newClient`, and again when the model
   *  moves to another backend). */
  client: undefined as unknown as WorkerClient,
  /** The model as the worker last described it; null until it has started. */
  model: null as ModelInfo | null,
  playing: false,
  /** The weights of the last finished iteration (kept on WebGPU), for a move after a failure. */
  lastWeights: null as ArrayBuffer | null,
  /** Moves to another backend so far: a training loop that sees it change goes on there. */
  fallbacks: 0,
  moving: null as Promise<void> | null,
  /** The backends' measured speeds, as the badge names them ('' until measured). */
  measured: '',
  /** The Remote GPU's server (address and token, in memory only), once the visitor connects. */
  remote: null as RemoteServer | null,
  /** Where the model ran before it moved to the remote device, to go back to. */
  local: 'cpu' as Backend,
  /** The remote device's measured speed, as the badge names it ('' until measured). */
  remoteMeasured: '',
  /** Every file added since the last "Clear images", to add again after a move. */
  addedFiles: [] as NamedBlob[],
  /** Image loads in flight (`whileImagesLoad`), and who waits for them to end (`imagesLoaded`). */
  imagesLoading: 0,
  imagesWaiting: [] as (() => void)[],
  /** Seconds of the last iterations, for the it/s figure. */
  recentSeconds: [] as number[],
  /** Whether the page said that autosave is off (it says so once). */
  storageTold: false,
  /** Each bundled dataset's pack index (packs.json), fetched once (www/packs.ts). */
  packIndexes: new Map<string, Promise<Packs>>(),
  /** The timer of the status line's running stage, if one runs. */
  stageTimer: undefined as ReturnType<typeof setInterval> | undefined,
};

/** Counts `work` as an image load in flight; when the last one ends, whoever waits goes on. */
export async function whileImagesLoad<T>(work: () => Promise<T>): Promise<T> {
  store.imagesLoading++;
  try {
    return await work();
  } finally {
    if (--store.imagesLoading === 0) store.imagesWaiting.splice(0).forEach((go) => go());
  }
}

/** Resolves once no image load is in flight. */
export function imagesLoaded(): Promise<void> {
  return store.imagesLoading === 0 ? Promise.resolve() : new Promise((go) => store.imagesWaiting.push(go));
}
