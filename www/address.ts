// The address bar (TensorFlow Playground style): a shared link reproduces the dataset, preset,
// seed, method, Langevin and optimiser settings and backend.
import { SETTINGS, formatSetting, parseSetting } from './controls';
import { DATASETS, type Dataset } from './images';
import type { BackendChoice, Choice, Overrides } from './protocol';

export interface UrlState {
  backend: BackendChoice;
  /** ?threads=N sizes the wasm thread pool (1: the single-threaded build); null: every core. */
  threads: number | null;
  dataset: Dataset | 'own';
  /** The preset and seed, and the settings the address names (only those). */
  choice: Choice;
  /** ?debug=1: the test and benchmark hooks (www/debug.ts). */
  debug: boolean;
}

export function readUrl(): UrlState {
  const q = new URLSearchParams(location.search);
  const backend = (['cpu', 'webgpu'].includes(q.get('backend') ?? '') ? q.get('backend') : 'auto') as BackendChoice;
  // ?dataset= picks the bundled images and, unless ?preset= says otherwise, the preset (and so
  // the pretrained model) that goes with them.
  const named = q.get('dataset');
  const dataset = named === 'own' || (named !== null && named in DATASETS) ? (named as Dataset | 'own') : 'textures';
  const preset = q.get('preset') ?? DATASETS[dataset === 'own' ? 'textures' : dataset].preset;
  const overrides: Overrides = {};
  for (const s of SETTINGS) {
    const value = parseSetting(s, q.get(s.key) ?? '');
    if (value !== undefined) (overrides as Record<string, unknown>)[s.key] = value;
  }
  const threads = Number(q.get('threads'));
  return {
    backend,
    threads: Number.isInteger(threads) && threads >= 1 ? threads : null,
    dataset,
    choice: { preset, seed: Number(q.get('seed') ?? 1) || 1, overrides },
    debug: q.get('debug') === '1',
  };
}

/** Write the choice into the address (without reloading), so the link reproduces the run. */
export function writeUrl(choice: Choice, backend: BackendChoice) {
  const q = new URLSearchParams(location.search);
  q.set('preset', choice.preset);
  q.set('seed', String(choice.seed));
  for (const s of SETTINGS) {
    const value = choice.overrides[s.key];
    if (value !== undefined && value !== null) q.set(s.key, formatSetting(s, value));
  }
  if (backend === 'auto') q.delete('backend');
  else q.set('backend', backend);
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
}

/** Open another dataset: a fresh page load, so that the model, the images and the address agree
 *  (the dataset's preset, and none of the other's settings). */
export function openDataset(dataset: Dataset) {
  const q = new URLSearchParams(location.search);
  q.set('dataset', dataset);
  q.set('preset', DATASETS[dataset].preset);
  for (const s of SETTINGS) q.delete(s.key);
  location.search = q.toString();
}

/** Say in the address that the person's own images are used (the model stays). */
export function markOwnDataset() {
  const q = new URLSearchParams(location.search);
  q.set('dataset', 'own');
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
}
