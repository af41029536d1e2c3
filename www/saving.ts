// The model's weights: autosave in IndexedDB (and the offer to resume at the next visit),
// downloads, uploads and the pretrained models.
import { writeUrl } from './address';
import { run } from './backend';
import { currentChoice, fillControls } from './controls';
import type { Format, Replies } from './protocol';
import { SLOTS, type Saved, autosave } from './storage';
import { store } from './store';
import { sample, setPlaying } from './training';
import { $, message, messageOf } from './ui';
import { showModel, views } from './views';

/** Autosave every this many iterations (and on pause). */
const AUTOSAVE_EVERY = 25;

async function exportBytes(format: Format): Promise<Replies['export'] | undefined> {
  return run(() => store.client.call({ kind: 'export', format }));
}

/** After a learned iteration: autosave now and then; on WebGPU or a remote device, keep the
 *  weights in memory every iteration, so that a lost device or server moves to the CPU with those
 *  of the iteration before. */
export async function snapshot(iteration: number) {
  if (iteration % AUTOSAVE_EVERY === 0) await saveNow();
  else if (store.model?.backend !== 'cpu') {
    const r = await exportBytes('bpk');
    if (r) store.lastWeights = r.bytes;
  }
}

/** Say once why autosave is off (no IndexedDB, storage full, ...); training goes on. */
function storageProblem(e: unknown) {
  document.body.dataset.storage = 'off';
  if (store.storageTold) return;
  store.storageTold = true;
  message(`Autosave is off: ${messageOf(e)}. Training goes on; download the weights to keep them.`, 'error');
}

export async function saveNow() {
  const r = await exportBytes('bpk');
  if (!r) return;
  store.lastWeights = r.bytes.slice(0);
  await autosave
    .save({ bytes: r.bytes, iteration: r.iteration, settings: currentChoice(), savedAt: Date.now() })
    .then(() => (document.body.dataset.savedIteration = String(r.iteration)))
    .catch(storageProblem);
}

export async function download(format: Format) {
  const r = await exportBytes(format);
  if (!r) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([r.bytes], { type: 'application/octet-stream' }));
  a.download = `multigrid-${currentChoice().preset}-iteration${r.iteration}.${format}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Load a model from checkpoint bytes; a bad file leaves the current model as it is. */
export async function loadWeights(bytes: ArrayBuffer, what: string): Promise<boolean> {
  setPlaying(false);
  const copy = bytes.slice(0);
  try {
    const info = await store.client.call({ kind: 'load-weights', bytes }, [bytes]);
    store.lastWeights = copy;
    views.charts.reset(info.scales);
    showModel(info);
    fillControls(info.config, currentChoice());
    writeUrl(currentChoice(), store.url.backend);
    message(`Loaded ${what} (iteration ${info.iteration}).`);
    await sample();
    return true;
  } catch (e) {
    message(`${what} is not a usable model: ${messageOf(e)}. The current model is kept.`, 'error');
    return false;
  }
}

/** The pretrained model published with the page for a preset (weights/PRESET.bpk), if any. */
export async function pretrainedWeights(preset: string): Promise<ArrayBuffer | null> {
  try {
    const response = await fetch(new URL(`weights/${preset}.bpk`, document.baseURI));
    return response.ok ? await response.arrayBuffer() : null;
  } catch {
    return null;
  }
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
      await store.client.call({ kind: 'check-weights', bytes: saved.bytes.slice(0) });
      return saved;
    } catch (e) {
      message(`Your autosaved model from iteration ${saved.iteration} cannot be used: ${messageOf(e)}.${fallback}`, 'error');
    }
  }
  return null;
}

/** Offer to resume the autosaved model, if there is a usable one. */
export async function offerResume() {
  const saved = await usableAutosave();
  if (!saved || saved.iteration === 0) return;
  const banner = $('resume');
  const minutes = Math.max(1, Math.round((Date.now() - saved.savedAt) / 60000));
  $('resume-text').textContent = `Resume your ${saved.settings.preset} model from iteration ${saved.iteration} (saved ${minutes} min ago)?`;
  banner.hidden = false;
  $('resume-yes').onclick = async () => {
    banner.hidden = true;
    if (await loadWeights(saved.bytes, 'your autosaved model')) {
      fillControls(store.model!.config, saved.settings);
      writeUrl(currentChoice(), store.url.backend);
    }
  };
  $('resume-no').onclick = async () => {
    banner.hidden = true;
    await autosave.clear();
  };
}
