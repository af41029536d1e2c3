// The bundled datasets' packs (scripts/make-dataset; the library's `data::Packs`): each split's
// images in one PNG atlas, so that a split arrives in two requests (its index and its atlas).
// Used for the observed images (the worker is given them cut) and the recovery panel's held-out ones.
import type { Packs } from './generated/Packs';
import { store } from './store';

export interface PackedImage {
  name: string;
  rgba: Uint8Array;
  width: number;
  height: number;
}

/** A dataset's index, fetched once (kept in the store). */
function packsOf(base: string): Promise<Packs> {
  const indexes = store.packIndexes;
  if (!indexes.has(base)) {
    const fetched = fetch(new URL('packs.json', base)).then((r) => {
      if (!r.ok) throw new Error(`packs.json: HTTP ${r.status}`);
      return r.json() as Promise<Packs>;
    });
    indexes.set(base, fetched);
    fetched.catch(() => indexes.delete(base)); // a failed fetch is tried again next time
  }
  return indexes.get(base)!;
}

/** The images of one split of the dataset at `base` (a URL ending in `/`), cut from its atlas. */
export async function packedImages(base: string, split: string): Promise<PackedImage[]> {
  const packs = await packsOf(base);
  const pack = packs.packs.find((p) => p.split === split);
  if (!pack) throw new Error(`the dataset has no ${split} split`);
  const atlas = await fetch(new URL(pack.file, base));
  if (!atlas.ok) throw new Error(`${pack.file}: HTTP ${atlas.status}`);
  const bitmap = await createImageBitmap(await atlas.blob());
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const size = packs.size;
  return pack.names.map((name, i) => {
    const [x, y] = [(i % pack.columns) * size, Math.floor(i / pack.columns) * size];
    const rgba = new Uint8Array(context.getImageData(x, y, size, size).data.buffer);
    return { name, rgba, width: size, height: size };
  });
}
