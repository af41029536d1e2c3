// Settings controls, mirrored in the URL (TensorFlow Playground style): a shared link reproduces
// the preset, method, Langevin and optimiser settings, seed and backend.
import { DATASETS, type Dataset } from './images';
import type { BackendChoice, Method, Overrides, Settings } from './protocol';

const NUMBERS = ['steps', 'delta', 'lr', 'batch', 'seed'] as const;

function input(id: string): HTMLInputElement {
  return document.getElementById(id) as HTMLInputElement;
}

function select(id: string): HTMLSelectElement {
  return document.getElementById(id) as HTMLSelectElement;
}

/** What the URL asks for: the backend and the settings it names. */
export function readUrl(): { backend: BackendChoice; threads: number | null; dataset: Dataset | 'own'; overrides: Overrides; explicit: Set<string>; debug: boolean } {
  const q = new URLSearchParams(location.search);
  const backend = (['cpu', 'webgpu'].includes(q.get('backend') ?? '') ? q.get('backend') : 'auto') as BackendChoice;
  // ?dataset= picks the bundled images and, unless ?preset= says otherwise, the preset (and so
  // the pretrained model) that goes with them.
  const named = q.get('dataset');
  const dataset = named === 'own' || (named !== null && named in DATASETS) ? (named as Dataset | 'own') : 'textures';
  const preset = q.get('preset') ?? DATASETS[dataset === 'own' ? 'textures' : dataset].preset;
  const overrides: Overrides = { preset, seed: Number(q.get('seed') ?? 1) || 1 };
  const explicit = new Set<string>();
  for (const key of NUMBERS) {
    const v = q.get(key);
    if (v !== null && v !== '' && Number.isFinite(Number(v))) {
      (overrides as unknown as Record<string, number>)[key] = Number(v);
      explicit.add(key);
    }
  }
  const method = q.get('method');
  if (method === 'multigrid' || method === 'cd' || method === 'pcd') {
    overrides.method = method;
    explicit.add('method');
  }
  if (q.has('noise')) {
    overrides.noise = q.get('noise') === 'on';
    explicit.add('noise');
  }
  // ?threads=N sizes the wasm thread pool (1: the single-threaded build); default: every core.
  const threads = Number(q.get('threads'));
  return { backend, threads: Number.isInteger(threads) && threads >= 1 ? threads : null, dataset, overrides, explicit, debug: q.get('debug') === '1' };
}

/** Fill the controls from a model's configuration, where the URL did not set a value. */
export function fillControls(configJson: string, overrides: Overrides) {
  const c = JSON.parse(configJson);
  const from: Settings = {
    preset: overrides.preset,
    seed: overrides.seed,
    method: overrides.method ?? c.method,
    steps: overrides.steps ?? c.langevin.steps,
    delta: overrides.delta ?? c.langevin.delta,
    lr: overrides.lr ?? c.optimizer.lr,
    batch: overrides.batch ?? c.batch_size,
    noise: overrides.noise ?? c.langevin.noise,
  };
  select('preset').value = from.preset;
  select('method').value = from.method;
  for (const key of NUMBERS) input(key).value = String(from[key]);
  const halfLife: number | undefined = c.optimizer.lr_half_life;
  const constantFor: number = c.optimizer.lr_constant_for ?? 0;
  input('lr').parentElement!.title = halfLife
    ? `Adam learning rate${constantFor ? ` for the first ${constantFor} iterations` : ' at the first iteration'}; ` +
      `it then halves every ${halfLife} iterations`
    : 'Adam learning rate (constant)';
  input('noise').checked = from.noise;
}

/** The settings as the controls show them now. */
export function currentSettings(): Settings {
  return {
    preset: select('preset').value,
    method: select('method').value as Method,
    steps: Math.max(1, Math.round(Number(input('steps').value))),
    delta: Number(input('delta').value),
    lr: Number(input('lr').value),
    batch: Math.max(1, Math.round(Number(input('batch').value))),
    noise: input('noise').checked,
    seed: Math.round(Number(input('seed').value)) || 1,
  };
}

/** Write every setting into the URL (without reloading), so the link reproduces the run. */
export function writeUrl(s: Settings, backend: BackendChoice) {
  const q = new URLSearchParams(location.search);
  q.set('preset', s.preset);
  q.set('method', s.method);
  for (const key of NUMBERS) q.set(key, String(s[key]));
  q.set('noise', s.noise ? 'on' : 'off');
  if (backend === 'auto') q.delete('backend');
  else q.set('backend', backend);
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
}
