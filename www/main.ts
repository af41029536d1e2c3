// The page: controls, every grid on canvases, learning curves. All computation runs in the worker.
import './style.css';
import { Charts } from './charts';
import { BenchmarkPanel, fastest, measureBackends, summary } from './benchmark';
import { WorkerClient } from './client';
import { currentSettings, fillControls, readUrl, writeUrl } from './controls';
import { GridView } from './grids';
import { acceptDrops, bundledImages, DATASETS, type Dataset, type NamedBlob } from './images';
import { InpaintPanel } from './inpaint';
import { Inspector } from './inspect';
import { type GridImages, INPUT_ERROR_KINDS, type ModelInfo, type Replies } from './protocol';
import { SLOTS, type Saved, autosave } from './storage';
import { Tour } from './tour';

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
const inspector = new Inspector(() => client, () => model?.config ?? null, () => playing);
inspector.attach(grids, { nearest: true });
inspector.attach(inpaint.view, { nearest: false });
inpaint.onRecovered = (r) => inspector.inpainted(inpaint.view, r);
const benchmark = new BenchmarkPanel(
  $('benchmark'),
  () => ({
    preset: currentSettings().preset,
    finest: model?.scales[model.scales.length - 1] ?? 64,
    batch: currentSettings().batch,
    threads: url.threads,
    backends: 'gpu' in navigator ? ['cpu', 'webgpu'] : ['cpu'],
  }),
  async () => setPlaying(false),
);
const tour = new Tour($('tour-start'), () => model?.scales ?? [1, 4, 16, 64]);

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
  if (measured) badge.textContent += ` · ${measured}`;
  badge.dataset.threads = String(info.threads);
  badge.title = badge.textContent;
  grids.layout(info.scales);
  if (charts.points === 0 || info.iteration === 0) charts.reset(info.scales);
  inpaint.layout(info.scales);
  tour.refresh();
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

/** Move the model to another backend, keeping its weights: the latest ones where the worker
 *  still answers (a move by measurement), else those of the last finished iteration (kept every
 *  SNAPSHOT_EVERY iterations on WebGPU: a lost GPU device, a crashed worker). Training that was
 *  running goes on there: the training loop sees `fallbacks` change and does not stop. */
let fallbacks = 0;
let moving: Promise<void> | null = null;
function moveModel(backend: 'cpu' | 'webgpu', reason: string, failure: boolean): Promise<void> {
  moving ??= (async () => {
    const where = backend === 'cpu' ? 'the CPU backend' : 'WebGPU';
    enableModelControls(false, `Moving the model to ${where}`);
    stage(`moving the model to ${where}`);
    const current = failure ? null : await client.call({ kind: 'export', format: 'bpk' }).catch(() => null);
    const weights = current?.bytes ?? lastWeights?.slice(0) ?? null;
    client.terminate();
    client = new WorkerClient();
    client.onCrash = onCrash;
    const info = await client.call({ kind: 'start', backend, threads: url.threads, settings: { ...currentSettings() }, weights });
    if (failure) message(`${reason}: continuing on ${where} from iteration ${info.iteration}.`, 'error');
    else message(`${reason}: the model moved to ${where} at iteration ${info.iteration}.`);
    showModel({ ...info, fallbackReason: failure ? reason : null });
    const files = addedFiles;
    addedFiles = [];
    await (files.length > 0 ? addImages(files) : loadBundled());
    status(`on ${where} from iteration ${info.iteration}`);
    enableModelControls(true);
    fallbacks++;
  })().finally(() => (moving = null));
  return moving;
}

function fallBackToCpu(reason: string): Promise<void> {
  return moveModel('cpu', reason, true);
}

/** Backend by measurement (when none is forced with ?backend= and a WebGPU adapter exists):
 *  time Langevin steps of the current preset on the wasm CPU backend and on WebGPU, each in a
 *  worker of its own, and move the model to the faster one. The badge names both figures. */
let measured = '';
async function chooseBackendByMeasurement() {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (url.backend !== 'auto' || !gpu || !model) return;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return;
  const config = JSON.parse(model.config);
  const runs = [{ preset: currentSettings().preset, grid: model.scales[model.scales.length - 1], batch: config.batch_size }];
  stage('measuring the backends');
  const results = await measureBackends(['cpu', 'webgpu'], runs, 2, url.threads);
  measured = summary(results);
  $('backend').dataset.measured = JSON.stringify(results.map((m) => ({ backend: m.backend, ms: m.rows[0]?.langevin_step_ms ?? null })));
  const best = fastest(results);
  if (best && model && best.backend !== model.backend) {
    await moveModel(best.backend, `measured faster (${measured})`, false);
  } else if (model) {
    showModel(model);
    status(`measured: ${measured}`);
  }
}

function onCrash(text: string) {
  void fallBackToCpu(`the model's worker stopped (${text})`);
}
client.onCrash = onCrash;

function draw(observed: GridImages[] | null, synthesized: GridImages[] | null) {
  if (observed) grids.showObserved(observed);
  if (synthesized) grids.showSynthesized(synthesized);
}

/** Langevin frames are always kept (an image opened large replays its chain), every step in
 *  slow motion; they are shown on the grids when "animate Langevin" is on. */
function frameEvery(): number {
  return ($('slow') as HTMLInputElement).checked ? 1 : Math.max(1, Math.floor(currentSettings().steps / 6));
}

function animating(): boolean {
  return ($('animate') as HTMLInputElement).checked;
}

/** One learning iteration, requested of the worker (which runs requests in order). */
function requestLearn(): Promise<Replies['learn'] | undefined> {
  return run(() => client.call({ kind: 'learn', frameEvery: frameEvery() }));
}

/** One iteration, asked for and shown (the Step button). */
async function learnOnce() {
  const started = performance.now();
  const r = await requestLearn();
  if (r) await showLearned(r, (performance.now() - started) / 1000);
}

/** Show a learning iteration's reply; `seconds` is what it took, for the it/s figure. */
async function showLearned(r: Replies['learn'], seconds: number) {
  setIteration(r.iteration);
  if (r.rollback) {
    // The divergence guard went back to a good state with a lower learning rate (the last kept
    // one after a divergence, an older anchor after a collapse of the Langevin gradient).
    const { reason, to, lr } = r.rollback;
    message(`Rolled back to iteration ${to}, learning rate lowered to ${lr.toPrecision(3)}: ${reason}.`);
    ($('lr') as HTMLInputElement).value = String(Number(lr.toPrecision(6)));
    writeUrl(currentSettings(), url.backend);
    return;
  }
  if (r.warning) message(r.warning, 'error');
  recentSeconds = [...recentSeconds.slice(-9), seconds];
  const itersPerSecond = recentSeconds.length / recentSeconds.reduce((a, b) => a + b, 0);
  $('speed').textContent = `${itersPerSecond.toFixed(2)} it/s`;
  charts.push(r.iteration, r.grids, itersPerSecond);
  $('charts').dataset.points = String(charts.points);
  grids.showObserved(r.observed);
  inspector.learned(grids, r);
  if (r.frames.length > 0 && animating()) await grids.animate(r.frames, r.synthesized);
  else grids.showSynthesized(r.synthesized);
  if (r.iteration % AUTOSAVE_EVERY === 0) await saveNow();
  else if (model?.backend === 'webgpu' && r.iteration % SNAPSHOT_EVERY === 0) {
    const snapshot = await exportBytes('bpk');
    if (snapshot) lastWeights = snapshot.bytes;
  }
}

async function sample() {
  const s = currentSettings();
  const r = await run(() => client.call({ kind: 'sample', n: SHOWN, seed: s.seed, frameEvery: frameEvery() }));
  if (!r) return;
  inspector.sampled(grids, r);
  if (r.frames.length > 0 && animating()) await grids.animate(r.frames, r.synthesized);
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
    message('Add some images first (or press “Bundled images”).', 'error');
    return;
  }
  setPlaying(true);
  status('training…');
  // The next iteration is asked for before this one is drawn, so that the worker learns while
  // the page draws; the it/s figure is the time between replies. A request that fails stops
  // training, unless the model moved to another backend (`fallbacks` changed) since it was made.
  const request = () => ({ fallbacks, reply: requestLearn() });
  let pending = request();
  let last = performance.now();
  while (playing) {
    const r = await pending.reply;
    const seconds = (performance.now() - last) / 1000;
    last = performance.now();
    if (r === undefined) {
      if (fallbacks === pending.fallbacks) setPlaying(false);
      else if (playing) pending = request(); // moved to another backend: go on there
      continue;
    }
    pending = playing ? request() : { fallbacks, reply: Promise.resolve(undefined) };
    await showLearned(r, seconds);
  }
  const r = await pending.reply;
  if (r) await showLearned(r, (performance.now() - last) / 1000);
  status('paused');
  inspector.refresh();
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
    if (shown) inspector.observedShown(grids, shown);
  }
}

/** The bundled dataset that goes with the chosen one ("your own" falls back to the textures). */
function bundledDataset(): Dataset {
  return url.dataset === 'own' ? 'textures' : url.dataset;
}

/** The bundled images of the chosen dataset; for "your own", only when asked for (the button). */
async function loadBundled(asked = false) {
  const dataset = bundledDataset();
  if (url.dataset === 'own' && !asked) {
    message('Drop your own images or folders anywhere on the page (or press “Bundled images”).');
    return;
  }
  try {
    await addImages(await bundledImages('train', dataset));
  } catch (e) {
    message(`The bundled ${dataset} could not be loaded: ${e instanceof Error ? e.message : e}`, 'error');
  }
}

async function clearImages() {
  setPlaying(false);
  addedFiles = [];
  const r = await run(() => client.call({ kind: 'clear-images' }));
  if (r) {
    setImageCount(0);
    if (model) model.imageCount = 0;
  }
}

/** Another dataset: its images and its pretrained model together (a fresh page load with
 *  ?dataset=, so the model, the images and the URL agree). "Your own" keeps the model and
 *  clears the images. */
async function chooseDataset(choice: string) {
  const q = new URLSearchParams(location.search);
  q.set('dataset', choice);
  if (choice === 'own') {
    history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
    url.dataset = 'own';
    await clearImages();
    message('Drop your own images or folders anywhere on the page, or use “Add images…”.');
    return;
  }
  q.set('preset', DATASETS[choice as Dataset].preset);
  for (const key of ['steps', 'delta', 'lr', 'batch', 'method', 'noise']) q.delete(key);
  location.search = q.toString();
}

// ---------------------------------------------------------------- controls

async function applySettings(event: Event) {
  const s = currentSettings();
  if ((event.target as HTMLElement).id === 'preset' || (event.target as HTMLElement).id === 'seed') {
    writeUrl(s, url.backend);
    await reset();
    return;
  }
  // The library checks the settings (its limits are the CLI's); a refused value is named and
  // the controls go back to the model's.
  const info = await run(() => client.call({ kind: 'settings', settings: s }));
  if (info) model = info;
  else if (model) fillControls(model.config, { preset: s.preset, seed: s.seed });
  writeUrl(currentSettings(), url.backend);
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
  $('use-bundled').onclick = () => void loadBundled(true);
  ($('dataset') as HTMLSelectElement).value = url.dataset;
  $('dataset').addEventListener('change', (e) => void chooseDataset((e.target as HTMLSelectElement).value));
  $('clear-images').onclick = () => void clearImages();
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
    const preset = currentSettings().preset;
    const bytes = await pretrainedWeights(preset);
    if (bytes) await loadWeights(bytes, `the pretrained ${preset} model`);
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
  // The tour needs no model: it starts while the wasm loads (its steps outline the grids once drawn).
  tour.showOnFirstVisit();
  enableModelControls(false, 'Waiting for the model to start');
  const where = url.backend === 'cpu' ? 'the CPU backend' : url.backend === 'webgpu' ? 'WebGPU' : 'WebGPU or the CPU backend';
  stage(`starting the model: loading the wasm and ${where}`);
  const started = performance.now();
  const weights = await pretrainedWeights(url.overrides.preset);
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
  inpaint.start(bundledDataset());
  if ('serviceWorker' in navigator && import.meta.env.PROD) {
    navigator.serviceWorker.register(new URL('sw.js', document.baseURI)).catch(() => undefined);
  }
  await chooseBackendByMeasurement();
}

// For scripts/soak.mjs: the worker's wasm memory.
(window as unknown as { multigridMemory: unknown }).multigridMemory = () => client.call({ kind: 'memory' });

// For scripts/bench/browser.mjs and the tests: WebGPU calls counted in the worker since the last reset.
(window as unknown as { multigridGpuCalls: unknown }).multigridGpuCalls = (reset: boolean) => client.call({ kind: 'gpu-calls', reset });

// For scripts/bench/browser.mjs: time one grid's operations in this page's worker.
(window as unknown as { multigridBench: unknown }).multigridBench = (preset: string, grid: number, batch: number, reps: number, backend: 'cpu' | 'webgpu') =>
  client.call({ kind: 'bench', preset, grid, batch, reps, backend });

void boot();
