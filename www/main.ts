// The page: controls, every grid on canvases, learning curves. All computation runs in the worker.
import './style.css';
import { Charts } from './charts';
import { WorkerClient } from './client';
import { currentSettings, fillControls, problemWith, readUrl, writeUrl } from './controls';
import { GridView } from './grids';
import { acceptDrops, bundledImages, type NamedBlob } from './images';
import { InpaintPanel } from './inpaint';
import { type GridImages, INPUT_ERROR_KINDS, type ModelInfo, type Replies } from './protocol';
import { SLOTS, type Saved, autosave } from './storage';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const SHOWN = 8;
const AUTOSAVE_EVERY = 25;
/** On WebGPU, keep a copy of the weights in memory this often (iterations), so that a lost GPU
 *  device moves to the CPU with the weights of the iteration before the loss. */
const SNAPSHOT_EVERY = 1;

const url = readUrl();
let client = new WorkerClient();
let model: ModelInfo | null = null;
let playing = false;
let lastWeights: ArrayBuffer | null = null;
let recentSeconds: number[] = [];

const grids = new GridView($('grids'), SHOWN);
const charts = new Charts({ loss: $('chart-loss'), recon: $('chart-recon'), gradient: $('chart-gradient'), speed: $('chart-speed') });
const inpaint = new InpaintPanel((request) => run(() => client.call(request)));

// ---------------------------------------------------------------- messages and status

function message(text: string, kind: 'info' | 'error' = 'info') {
  const box = $('messages');
  const item = document.createElement('p');
  item.className = kind;
  item.textContent = text;
  const close = document.createElement('button');
  close.className = 'close';
  close.setAttribute('aria-label', 'dismiss');
  close.textContent = '×';
  close.onclick = () => item.remove();
  item.append(close);
  box.prepend(item);
  while (box.children.length > 4) box.lastElementChild!.remove();
}

function status(text: string) {
  clearInterval(stageTimer);
  $('status').textContent = text;
}

/** Say what the page is doing now, with the seconds it has taken so far (until the next status). */
let stageTimer: ReturnType<typeof setInterval> | undefined;
function stage(text: string) {
  status('');
  const started = performance.now();
  const show = () => ($('status').textContent = `${text}… ${((performance.now() - started) / 1000).toFixed(1)} s`);
  show();
  stageTimer = setInterval(show, 200);
}

/** Controls that need a running model (and its images). Until it is up they are disabled, and
 *  their tooltip says why instead of what they do. */
const MODEL_CONTROLS = ['train', 'step', 'sample', 'reset', 'files', 'use-bundled', 'clear-images', 'download', 'download-safetensors', 'upload', 'pretrained'];
function enableModelControls(enabled: boolean, why = '') {
  for (const id of MODEL_CONTROLS) {
    const control = $<HTMLButtonElement | HTMLInputElement>(id);
    control.disabled = !enabled;
    // A file input is hidden inside its label, which is what a person sees and hovers.
    const shown = control instanceof HTMLInputElement ? (control.closest('label') ?? control) : control;
    if (enabled) {
      if (shown.dataset.title !== undefined) shown.title = shown.dataset.title;
      delete shown.dataset.title;
      shown.removeAttribute('aria-disabled');
    } else {
      shown.dataset.title ??= shown.title;
      shown.title = why;
      shown.setAttribute('aria-disabled', 'true');
    }
  }
}

function showModel(info: ModelInfo) {
  model = info;
  if (info.warning) message(info.warning);
  const badge = $('backend');
  badge.dataset.backend = info.backend;
  const cpu = `CPU (wasm, ${info.threads} thread${info.threads === 1 ? '' : 's'})`;
  const threadsOff = info.threads === 1 && info.threadsReason ? ` · one thread: ${info.threadsReason}` : '';
  badge.textContent =
    info.backend === 'webgpu' ? `WebGPU · ${info.adapter ?? 'adapter'}` : `${cpu}${info.fallbackReason ? ` · ${info.fallbackReason}` : ''}${threadsOff}`;
  badge.dataset.threads = String(info.threads);
  badge.title = badge.textContent;
  grids.layout(info.scales);
  if (charts.points === 0 || info.iteration === 0) charts.reset(info.scales);
  inpaint.layout(info.scales);
  setIteration(info.iteration);
  setImageCount(info.imageCount);
  document.body.dataset.ready = 'true';
}

function setIteration(n: number) {
  $('iteration').textContent = String(n);
  document.body.dataset.iteration = String(n);
}

function setImageCount(n: number) {
  $('image-count').textContent = `${n} observed image${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------- running work

/** Run one piece of work; a failure becomes a message (and, on WebGPU, a move to the CPU). */
async function run<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    message(text, 'error');
    const kind = e instanceof Error ? e.name : 'Error';
    if (model?.backend === 'webgpu' && !INPUT_ERROR_KINDS.has(kind)) {
      await fallBackToCpu(`WebGPU failed (${text})`);
    }
    return undefined;
  }
}

/** Move the model to the CPU backend (a lost GPU device, a crashed worker), keeping the weights
 *  of the last finished iteration (kept every SNAPSHOT_EVERY iterations on WebGPU). Training that
 *  was running goes on there: the training loop sees `fallbacks` change and does not stop. */
let fallbacks = 0;
let fallingBack: Promise<void> | null = null;
function fallBackToCpu(reason: string): Promise<void> {
  fallingBack ??= (async () => {
    enableModelControls(false, 'Moving the model to the CPU backend');
    stage('moving the model to the CPU backend');
    client.terminate();
    client = new WorkerClient();
    client.onCrash = onCrash;
    const info = await client.call({ kind: 'start', backend: 'cpu', threads: url.threads, settings: { ...currentSettings() }, weights: lastWeights?.slice(0) ?? null });
    message(`${reason}: continuing on the CPU backend from iteration ${info.iteration}.`, 'error');
    showModel({ ...info, fallbackReason: reason });
    const files = addedFiles;
    addedFiles = [];
    await (files.length > 0 ? addImages(files) : loadBundled());
    status(`on the CPU backend from iteration ${info.iteration}`);
    enableModelControls(true);
    fallbacks++;
  })().finally(() => (fallingBack = null));
  return fallingBack;
}

function onCrash(text: string) {
  void fallBackToCpu(`the model's worker stopped (${text})`);
}
client.onCrash = onCrash;

function draw(observed: GridImages[] | null, synthesized: GridImages[] | null) {
  if (observed) grids.showObserved(observed);
  if (synthesized) grids.showSynthesized(synthesized);
}

function frameEvery(): number {
  return ($('animate') as HTMLInputElement).checked ? Math.max(1, Math.floor(currentSettings().steps / 6)) : 0;
}

async function learnOnce(): Promise<boolean> {
  const started = performance.now();
  const r = await run(() => client.call({ kind: 'learn', frameEvery: frameEvery() }));
  if (!r) return false;
  setIteration(r.iteration);
  if (r.rollback) {
    // The divergence guard went back to the last good state with a lower learning rate.
    const { reason, to, lr } = r.rollback;
    message(`Learning diverged (${reason}): rolled back to iteration ${to}, learning rate lowered to ${lr.toPrecision(3)}.`);
    ($('lr') as HTMLInputElement).value = String(Number(lr.toPrecision(6)));
    writeUrl(currentSettings(), url.backend);
    return true;
  }
  recentSeconds = [...recentSeconds.slice(-9), (performance.now() - started) / 1000];
  const itersPerSecond = recentSeconds.length / recentSeconds.reduce((a, b) => a + b, 0);
  $('speed').textContent = `${itersPerSecond.toFixed(2)} it/s`;
  charts.push(r.iteration, r.grids, itersPerSecond);
  $('charts').dataset.points = String(charts.points);
  grids.showObserved(r.observed);
  if (r.frames.length > 0) await grids.animate(r.frames, r.synthesized);
  else grids.showSynthesized(r.synthesized);
  if (r.iteration % AUTOSAVE_EVERY === 0) await saveNow();
  else if (model?.backend === 'webgpu' && r.iteration % SNAPSHOT_EVERY === 0) {
    const snapshot = await exportBytes('bpk');
    if (snapshot) lastWeights = snapshot.bytes;
  }
  return true;
}

async function sample() {
  const s = currentSettings();
  const r = await run(() => client.call({ kind: 'sample', n: SHOWN, seed: s.seed, frameEvery: frameEvery() }));
  if (!r) return;
  if (r.frames.length > 0) await grids.animate(r.frames, r.synthesized);
  else draw(null, r.synthesized);
  status(`sampled ${SHOWN} images in ${r.seconds.toFixed(2)} s`);
  document.body.dataset.sampled = String(Number(document.body.dataset.sampled ?? 0) + 1);
}

function setPlaying(on: boolean) {
  playing = on;
  const button = $('train');
  button.textContent = on ? 'Pause' : 'Train';
  button.setAttribute('aria-pressed', String(on));
  document.body.dataset.playing = String(on);
}

async function play() {
  if (playing) return;
  if (imagesLoading > 0) {
    message('The images are still loading: press Train again once they are in.');
    return;
  }
  if (!model || model.imageCount === 0) {
    message('Add some images first (or press “Bundled textures”).', 'error');
    return;
  }
  setPlaying(true);
  status('training…');
  while (playing) {
    const before = fallbacks;
    if (!(await learnOnce()) && fallbacks === before) setPlaying(false);
  }
  status('paused');
  await saveNow();
}

// ---------------------------------------------------------------- weights

async function exportBytes(format: 'bpk' | 'safetensors'): Promise<Replies['export'] | undefined> {
  return run(() => client.call({ kind: 'export', format }));
}

/** Say once why autosave is off (no IndexedDB, storage full, ...); training goes on. */
let storageTold = false;
function storageProblem(e: unknown) {
  document.body.dataset.storage = 'off';
  if (storageTold) return;
  storageTold = true;
  message(`Autosave is off: ${e instanceof Error ? e.message : e}. Training goes on; download the weights to keep them.`, 'error');
}

async function saveNow() {
  const r = await exportBytes('bpk');
  if (!r) return;
  lastWeights = r.bytes.slice(0);
  await autosave
    .save({ bytes: r.bytes, iteration: r.iteration, settings: currentSettings(), savedAt: Date.now() })
    .then(() => (document.body.dataset.savedIteration = String(r.iteration)))
    .catch(storageProblem);
}

async function download(format: 'bpk' | 'safetensors') {
  const r = await exportBytes(format);
  if (!r) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([r.bytes], { type: 'application/octet-stream' }));
  a.download = `multigrid-${currentSettings().preset}-iteration${r.iteration}.${format}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Load a model from checkpoint bytes; a bad file leaves the current model as it is. */
async function loadWeights(bytes: ArrayBuffer, what: string): Promise<boolean> {
  setPlaying(false);
  const copy = bytes.slice(0);
  try {
    const info = await client.call({ kind: 'load-weights', bytes }, [bytes]);
    lastWeights = copy;
    charts.reset(info.scales);
    showModel(info);
    fillControls(info.config, { preset: currentSettings().preset, seed: currentSettings().seed });
    writeUrl(currentSettings(), url.backend);
    message(`Loaded ${what} (iteration ${info.iteration}).`);
    await sample();
    return true;
  } catch (e) {
    message(`${what} is not a usable model: ${e instanceof Error ? e.message : e}. The current model is kept.`, 'error');
    return false;
  }
}

async function pretrainedWeights(preset: string): Promise<ArrayBuffer | null> {
  try {
    const response = await fetch(new URL(`weights/${preset}.bpk`, document.baseURI));
    return response.ok ? await response.arrayBuffer() : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- images

/** Every file added since the last "Clear images", to add again after a move to the CPU. */
let addedFiles: NamedBlob[] = [];

/** Image loads in flight (Train says so instead of "add some images"). */
let imagesLoading = 0;

async function addImages(files: NamedBlob[]) {
  imagesLoading++;
  try {
    await addImagesNow(files);
  } finally {
    imagesLoading--;
  }
}

async function addImagesNow(files: NamedBlob[]) {
  if (files.length === 0) return;
  addedFiles = [...addedFiles, ...files];
  status(`reading ${files.length} file${files.length === 1 ? '' : 's'}…`);
  const r = await run(() => client.call({ kind: 'add-images', files }));
  if (!r) return;
  setImageCount(r.imageCount);
  if (model) model.imageCount = r.imageCount;
  if (r.failed.length > 0) {
    message(`Skipped ${r.failed.length} file${r.failed.length === 1 ? '' : 's'} that could not be read: ${r.failed.map((f) => `${f.name} (${f.reason})`).join('; ')}. The other images are loaded.`, 'error');
  }
  status(`${r.added} image${r.added === 1 ? '' : 's'} added`);
  if (r.imageCount > 0 && !playing) {
    const shown = await run(() => client.call({ kind: 'show-observed', n: SHOWN }));
    if (shown) draw(shown.observed, null);
  }
}

async function loadBundled() {
  try {
    await addImages(await bundledImages('train'));
  } catch (e) {
    message(`The bundled textures could not be loaded: ${e instanceof Error ? e.message : e}`, 'error');
  }
}

// ---------------------------------------------------------------- controls

async function applySettings(event: Event) {
  const s = currentSettings();
  const problem = problemWith(s);
  if (problem) {
    message(problem, 'error');
    return;
  }
  writeUrl(s, url.backend);
  if ((event.target as HTMLElement).id === 'preset' || (event.target as HTMLElement).id === 'seed') {
    await reset();
  } else {
    const info = await run(() => client.call({ kind: 'settings', settings: s }));
    if (info) model = info;
  }
}

async function reset() {
  setPlaying(false);
  const s = currentSettings();
  const info = await run(() => client.call({ kind: 'reset', settings: s }));
  if (!info) return;
  lastWeights = null; // a move to the CPU rebuilds this model from its preset and seed
  charts.reset(info.scales);
  showModel(info);
  message(`New ${s.preset} model from seed ${s.seed}.`);
  await sample();
}

function bindControls() {
  $('train').onclick = () => (playing ? setPlaying(false) : void play());
  $('step').onclick = async () => {
    if (!playing) await learnOnce();
  };
  $('sample').onclick = () => void sample();
  $('reset').onclick = () => void reset();
  for (const id of ['preset', 'method', 'steps', 'delta', 'lr', 'batch', 'noise', 'seed']) $(id).addEventListener('change', applySettings);
  $('files').addEventListener('change', async (e) => {
    const input = e.target as HTMLInputElement;
    await addImages(Array.from(input.files ?? []).map((f) => ({ name: f.name, blob: f })));
    input.value = '';
  });
  $('use-bundled').onclick = () => void loadBundled();
  $('clear-images').onclick = async () => {
    setPlaying(false);
    addedFiles = [];
    const r = await run(() => client.call({ kind: 'clear-images' }));
    if (r) {
      setImageCount(0);
      if (model) model.imageCount = 0;
    }
  };
  $('download').onclick = () => void download('bpk');
  $('download-safetensors').onclick = () => void download('safetensors');
  $('upload').addEventListener('change', async (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) await loadWeights(await file.arrayBuffer(), file.name);
  });
  if (url.debug) {
    const lose = $('lose-device');
    lose.hidden = false;
    lose.onclick = async () => {
      const r = await run(() => client.call({ kind: 'lose-device' }));
      if (r) message(`Destroyed ${r.destroyed} WebGPU device${r.destroyed === 1 ? '' : 's'} (debug).`);
    };
  }
  $('pretrained').onclick = async () => {
    const bytes = await pretrainedWeights('small');
    if (bytes) await loadWeights(bytes, 'the pretrained small model');
    else message('No pretrained weights are published with this page.', 'error');
  };
  acceptDrops($('drop-overlay'), (files) => {
    const weights = files.filter((f) => f.name.endsWith('.bpk'));
    if (weights.length > 0) void weights[0].blob.arrayBuffer().then((b) => loadWeights(b, weights[0].name));
    void addImages(files.filter((f) => !f.name.endsWith('.bpk')));
  });
  window.addEventListener('keydown', (e) => {
    const target = e.target as HTMLElement;
    if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(target.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === ' ') {
      e.preventDefault();
      $('train').click();
    } else if (e.key === 's') $('step').click();
    else if (e.key === 'r') $('sample').click();
  });
}

/** The newest autosave that passes the library's checks (checksum, format, architecture); each
 *  one that does not is named in a message and passed over. */
async function usableAutosave(): Promise<Saved | null> {
  for (const slot of SLOTS) {
    let saved: Saved | 'foreign' | undefined;
    try {
      saved = await autosave.load(slot);
    } catch (e) {
      storageProblem(e);
      return null;
    }
    if (saved === undefined) continue;
    const fallback = slot === 'latest' ? ' The save before it is tried.' : '';
    if (saved === 'foreign') {
      message(`The autosave stored in this browser is not one this page wrote; it is ignored.${fallback}`, 'error');
      continue;
    }
    try {
      await client.call({ kind: 'check-weights', bytes: saved.bytes.slice(0) });
      return saved;
    } catch (e) {
      message(`Your autosaved model from iteration ${saved.iteration} cannot be used: ${e instanceof Error ? e.message : e}.${fallback}`, 'error');
    }
  }
  return null;
}

async function offerResume() {
  const saved = await usableAutosave();
  if (!saved || saved.iteration === 0) return;
  const banner = $('resume');
  const minutes = Math.max(1, Math.round((Date.now() - saved.savedAt) / 60000));
  $('resume-text').textContent = `Resume your ${saved.settings.preset} model from iteration ${saved.iteration} (saved ${minutes} min ago)?`;
  banner.hidden = false;
  $('resume-yes').onclick = async () => {
    banner.hidden = true;
    if (await loadWeights(saved.bytes, 'your autosaved model')) {
      fillControls(JSON.stringify({ ...JSON.parse(model!.config) }), { ...saved.settings });
      writeUrl(currentSettings(), url.backend);
    }
  };
  $('resume-no').onclick = async () => {
    banner.hidden = true;
    await autosave.clear();
  };
}

// ---------------------------------------------------------------- start

async function boot() {
  bindControls();
  enableModelControls(false, 'Waiting for the model to start');
  const where = url.backend === 'cpu' ? 'the CPU backend' : url.backend === 'webgpu' ? 'WebGPU' : 'WebGPU or the CPU backend';
  stage(`starting the model: loading the wasm and ${where}`);
  const started = performance.now();
  const weights = url.overrides.preset === 'small' ? await pretrainedWeights('small') : null;
  lastWeights = weights?.slice(0) ?? null;
  let info: ModelInfo;
  try {
    info = await client.call({ kind: 'start', backend: url.backend, threads: url.threads, settings: url.overrides, weights }, weights ? [weights] : []);
  } catch (e) {
    const why = `The model could not start: ${e instanceof Error ? e.message : e}`;
    status('');
    message(why, 'error');
    enableModelControls(false, why);
    return;
  }
  showModel(info);
  fillControls(info.config, url.overrides);
  writeUrl(currentSettings(), url.backend);
  if (weights) {
    stage(info.backend === 'webgpu' ? 'compiling the GPU kernels and drawing the first pretrained samples' : 'drawing the first pretrained samples');
    await sample();
    // performance.now() counts from navigation: this is page load → first sample.
    const seconds = performance.now() / 1000;
    document.body.dataset.firstSample = seconds.toFixed(2);
    status(`pretrained samples ${seconds.toFixed(1)} s after the page opened (model ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  const shown = $('status').textContent;
  stage('loading the bundled images');
  await loadBundled();
  status(weights ? (shown ?? '') : `ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  enableModelControls(true);
  await offerResume();
  inpaint.start();
  if ('serviceWorker' in navigator && import.meta.env.PROD) {
    navigator.serviceWorker.register(new URL('sw.js', document.baseURI)).catch(() => undefined);
  }
}

// For scripts/soak.mjs: the worker's wasm memory.
(window as unknown as { multigridMemory: unknown }).multigridMemory = () => client.call({ kind: 'memory' });

// For scripts/bench-browser.mjs: time one grid's operations in this page's worker.
(window as unknown as { multigridBench: unknown }).multigridBench = (preset: string, grid: number, batch: number, reps: number, backend: 'cpu' | 'webgpu') =>
  client.call({ kind: 'bench', preset, grid, batch, reps, backend });

void boot();
