// The observed images: the bundled dataset that goes with the model, files the person adds or
// drops, and "your own" images instead of the bundled ones.
import { markOwnDataset, openDataset } from './address';
import { run } from './backend';
import { bundledImages, type Dataset, type NamedBlob } from './images';
import { store } from './store';
import { setPlaying } from './training';
import { message, setImageCount, status } from './ui';
import { SHOWN, views } from './views';

export async function addImages(files: NamedBlob[]) {
  if (files.length === 0) return;
  store.imagesLoading++;
  try {
    store.addedFiles = [...store.addedFiles, ...files];
    status(`reading ${files.length} file${files.length === 1 ? '' : 's'}…`);
    const r = await run(() => store.client.call({ kind: 'add-images', files }));
    if (!r) return;
    setImageCount(r.imageCount);
    if (r.failed.length > 0) {
      const named = r.failed.map((f) => `${f.name} (${f.reason})`).join('; ');
      message(`Skipped ${r.failed.length} file${r.failed.length === 1 ? '' : 's'} that could not be read: ${named}. The other images are loaded.`, 'error');
    }
    status(`${r.added} image${r.added === 1 ? '' : 's'} added`);
    if (r.imageCount > 0 && !store.playing) {
      const shown = await run(() => store.client.call({ kind: 'show-observed', n: SHOWN }));
      if (shown) views.inspector.observedShown(views.grids, shown);
    }
  } finally {
    store.imagesLoading--;
  }
}

/** The bundled dataset that goes with the chosen one ("your own" falls back to the textures). */
export function bundledDataset(): Dataset {
  return store.url.dataset === 'own' ? 'textures' : store.url.dataset;
}

/** The bundled images of the chosen dataset; for "your own", only when asked for (the button). */
export async function loadBundled(asked = false) {
  const dataset = bundledDataset();
  if (store.url.dataset === 'own' && !asked) {
    message('Drop your own images or folders anywhere on the page (or press “Bundled images”).');
    return;
  }
  try {
    await addImages(await bundledImages('train', dataset));
  } catch (e) {
    message(`The bundled ${dataset} could not be loaded: ${e instanceof Error ? e.message : e}`, 'error');
  }
}

export async function clearImages() {
  setPlaying(false);
  store.addedFiles = [];
  const r = await run(() => store.client.call({ kind: 'clear-images' }));
  if (r) setImageCount(0);
}

/** Another dataset: its images and its pretrained model together (a fresh page load). "Your
 *  own" keeps the model and clears the images. */
export async function chooseDataset(choice: Dataset | 'own') {
  if (choice !== 'own') {
    openDataset(choice);
    return;
  }
  markOwnDataset();
  store.url.dataset = 'own';
  await clearImages();
  message('Drop your own images or folders anywhere on the page, or use “Add images…”.');
}
