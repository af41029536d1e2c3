// Getting images in: the file picker, drag-and-drop of files and folders, and the bundled sets.
export interface NamedBlob {
  name: string;
  blob: Blob;
}

/** Every file under a dropped folder (recursively), via the File System entries API. */
async function filesOf(entry: FileSystemEntry, path = ''): Promise<NamedBlob[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ name: path + file.name, blob: file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  // readEntries returns the listing in batches until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.filter((c) => !c.name.startsWith('.')).map((c) => filesOf(c, `${path}${entry.name}/`)));
  return nested.flat();
}

/** The files of a drop: plain files, and the contents of dropped folders. */
export async function droppedFiles(data: DataTransfer): Promise<NamedBlob[]> {
  const entries = Array.from(data.items)
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length > 0) return (await Promise.all(entries.map((e) => filesOf(e)))).flat();
  return Array.from(data.files).map((f) => ({ name: f.name, blob: f }));
}

/** Make the whole page a drop target; `onFiles` gets what was dropped. */
export function acceptDrops(overlay: HTMLElement, onFiles: (files: NamedBlob[]) => void) {
  let depth = 0;
  const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', () => {
    if (--depth <= 0) {
      depth = 0;
      overlay.hidden = true;
    }
  });
  window.addEventListener('dragover', (e) => hasFiles(e) && e.preventDefault());
  window.addEventListener('drop', async (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    onFiles(await droppedFiles(e.dataTransfer!));
  });
}

/** The bundled datasets (data/NAME/, made by scripts/make-dataset), each with the preset its
 *  pretrained model (weights/PRESET.bpk) was trained with. */
export const DATASETS = {
  textures: { preset: 'small', label: 'textures' },
  digits: { preset: 'digits', label: 'digits' },
} as const;
export type Dataset = keyof typeof DATASETS;

/** Where a bundled dataset's files are, next to the page. */
export function datasetBase(dataset: Dataset): string {
  return new URL(`data/${dataset}/`, document.baseURI).href;
}
