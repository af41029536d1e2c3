// The page, composed: controls bound to the modules that do the work (all computation runs in
// the worker), then the start-up: the model, its first samples, the bundled images, the offer
// to resume, and the backend chosen by measurement.
import './style.css';
import { writeUrl } from './address';
import { chooseBackendByMeasurement, newClient, run, startModel } from './backend';
import { SETTING_CONTROLS, currentChoice, fillControls, makeSettingControls } from './controls';
import { addImages, bundledDataset, bundledImages, chooseDataset, clearImages, loadBundled } from './datasets';
import { type Dataset, acceptDrops } from './images';
import type { ModelInfo } from './protocol';
import { bindRemote } from './remote';
import { download, loadWeights, offerResume, pretrainedWeights } from './saving';
import { store, whileImagesLoad } from './store';
import { learnOnce, play, sample, setPlaying } from './training';
import { $, enableModelControls, message, messageOf, stage, status } from './ui';
import { showModel, views } from './views';

/** A setting changed: the preset or the seed make a new model; the others apply to this one in
 *  one call, which the library checks (a refused value is named, and the controls go back). */
async function applySettings(event: Event) {
  const id = (event.target as HTMLElement).id;
  if (id === 'preset' || id === 'seed') {
    await reset();
    return;
  }
  const info = await run(() => store.client.call({ kind: 'apply', overrides: currentChoice().overrides }));
  if (info) store.model = info;
  if (store.model) fillControls(store.model.config, currentChoice());
  writeUrl(currentChoice(), store.url.backend);
}

async function reset() {
  setPlaying(false);
  const choice = currentChoice();
  const info = await run(() => store.client.call({ kind: 'reset', choice }));
  if (!info) return;
  store.lastWeights = null; // a move to the CPU rebuilds this model from its preset and seed
  views.charts.reset(info.scales);
  showModel(info);
  writeUrl(choice, store.url.backend);
  message(`New ${choice.preset} model from seed ${choice.seed}.`);
  await sample();
}

function bindControls() {
  makeSettingControls();
  // Settings, images and weights: open on a wide screen, a panel the visitor opens on a phone.
  const wide = matchMedia('(min-width: 641px)');
  $<HTMLDetailsElement>('more').open = wide.matches;
  wide.addEventListener('change', (e) => ($<HTMLDetailsElement>('more').open = e.matches));
  bindRemote();
  $('train').onclick = () => (store.playing ? setPlaying(false) : void play());
  $('step').onclick = async () => {
    if (!store.playing) await learnOnce();
  };
  $('sample').onclick = () => void sample();
  $('reset').onclick = () => void reset();
  for (const id of SETTING_CONTROLS) $(id).addEventListener('change', applySettings);
  $('files').addEventListener('change', async (e) => {
    const input = e.target as HTMLInputElement;
    await addImages(Array.from(input.files ?? []).map((f) => ({ name: f.name, blob: f })));
    input.value = '';
  });
  $('use-bundled').onclick = () => void loadBundled(true);
  $<HTMLSelectElement>('dataset').value = store.url.dataset;
  $('dataset').addEventListener('change', (e) => void chooseDataset((e.target as HTMLSelectElement).value as Dataset | 'own'));
  $('clear-images').onclick = () => void clearImages();
  $('download').onclick = () => void download('bpk');
  $('download-safetensors').onclick = () => void download('safetensors');
  $('upload').addEventListener('change', async (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (file) await loadWeights(await file.arrayBuffer(), file.name);
  });
  $('pretrained').onclick = async () => {
    const preset = currentChoice().preset;
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

async function boot() {
  store.client = newClient();
  if (store.url.debug) (await import('./debug')).installDebug();
  bindControls();
  // The tour needs no model: it starts while the wasm loads (its steps outline the grids once drawn).
  views.tour.showOnFirstVisit();
  enableModelControls(false, 'Waiting for the model to start');
  const { backend, choice } = store.url;
  const where = backend === 'cpu' ? 'the CPU backend' : backend === 'webgpu' ? 'WebGPU' : 'WebGPU or the CPU backend';
  stage(`starting the model: loading the wasm and ${where}`);
  const started = performance.now();
  const weights = await pretrainedWeights(choice.preset);
  store.lastWeights = weights?.slice(0) ?? null;
  let info: ModelInfo;
  try {
    info = await startModel(backend, choice, weights);
  } catch (e) {
    const why = `The model could not start: ${messageOf(e)}`;
    status('');
    message(why, 'error');
    enableModelControls(false, why);
    return;
  }
  showModel(info);
  fillControls(info.config, choice);
  writeUrl(currentChoice(), backend);
  // The bundled images are fetched and cut from their pack while the worker draws the samples;
  // Train pressed before they are in starts once they are.
  const images = store.url.dataset === 'own' ? undefined : bundledImages();
  images?.catch(() => undefined); // reported where it is awaited
  const shown = await whileImagesLoad(async () => {
    // The model is up: its controls work from now on (the worker takes requests in order).
    enableModelControls(true);
    if (weights) {
      stage(info.backend === 'webgpu' ? 'compiling the GPU kernels and drawing the first pretrained samples' : 'drawing the first pretrained samples');
      await sample();
      // performance.now() counts from navigation: this is page load → first sample.
      const seconds = performance.now() / 1000;
      document.body.dataset.firstSample = seconds.toFixed(2);
      status(`pretrained samples ${seconds.toFixed(1)} s after the page opened (model ready in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
    const sampled = $('status').textContent;
    await loadBundled(false, images);
    return sampled;
  });
  // (Train pressed while the images loaded has started, and says so.)
  if (!store.playing) status(weights ? (shown ?? '') : `ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await offerResume();
  views.inpaint.start(bundledDataset());
  if ('serviceWorker' in navigator && import.meta.env.PROD) {
    navigator.serviceWorker.register(new URL('sw.js', document.baseURI)).catch(() => undefined);
  }
  await chooseBackendByMeasurement();
}

void boot();
