// The observed images: the bundled dataset that goes with the model, files the person adds or
// drops, and "your own" images instead of the bundled ones.
import { markOwnDataset, openDataset } from './address';
import { run } from './backend';
import { type Dataset, datasetBase, type NamedBlob } from './images';
import { type PackedImage, packedImages } from './packs';
import type { Replies } from './protocol';
import { store, whileImagesLoad } from './store';
import { setPlaying } from './training';
import { message, setImageCount, stage, status } from './ui';
import { SHOWN, views } from './views';

/** Files the person adds or drops; each that cannot be read is named, the others load. */
export async function addImages(files: NamedBlob[]) {
  if (files.length === 0) return;
  store.addedFiles = [...store.addedFiles, ...files];
  await adding(`reading ${files.length} file${files.length === 1 ? '' : 's'}`, () => store.client.call({ kind: 'add-images', files }));
}

/** The images of the bundled dataset's training split, fetched and cut from its pack (one
 *  request for the images) while the worker does other work. */
export function bundledImages(): Promise<PackedImage[]> {
  return packedImages(datasetBase(bundledDataset()), 'train');
}

/** Give the worker images cut from a pack (transferred, not copied). */
async function addPacked(images: Promise<PackedImage[]>) {
  await adding('loading the bundled images', async () => {
    let all: PackedImage[];
    try {
      all = await images;
    } catch (e) {
      // Not the device's failure: the page keeps its backend.
      throw Object.assign(new Error(`the bundled images could not be loaded (${e instanceof Error ? e.message : e})`), { name: 'DataError' });
    }
    return store.client.call({ kind: 'add-rgba', images: all }, all.map((im) => im.rgba.buffer));
  });
}

/** Add images by `request`, then say how many, name the failures and show the first ones. */
async function adding(what: string, request: () => Promise<Replies['add-images']>) {
  await whileImagesLoad(async () => {
    stage(what);
    const r = await run(request);
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
  });
}

/** The bundled dataset that goes with the chosen one ("your own" falls back to the textures). */
export function bundledDataset(): Dataset {
  return store.url.dataset === 'own' ? 'textures' : store.url.dataset;
}

/** The bundled images of the chosen dataset (those given, if they are being fetched already);
 *  for "your own", only when asked for (the button). */
export async function loadBundled(asked = false, images?: Promise<PackedImage[]>) {
  if (store.url.dataset === 'own' && !asked) {
    message('Drop your own images or folders anywhere on the page (or press “Bundled images”).');
    return;
  }
  await addPacked(images ?? bundledImages());
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
