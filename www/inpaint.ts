// Recovery of occluded pixels (the paper's occlusion experiment): paint a mask over an image and
// watch the multi-grid chain fill it in with the known pixels held fixed.
import { GridView } from './grids';
import { type Dataset, datasetBase } from './images';
import { type PackedImage, packedImages } from './packs';
import type { Replies, RequestOf } from './protocol';

type Call = <K extends 'inpaint' | 'mask'>(request: RequestOf<K>) => Promise<Replies[K] | undefined>;

const SIZE = 64;
const BRUSH = 4;

export class InpaintPanel {
  private canvas = document.getElementById('inpaint-canvas') as HTMLCanvasElement;
  private pixels = new Uint8ClampedArray(SIZE * SIZE * 4);
  private mask = new Uint8Array(SIZE * SIZE);
  private sources: PackedImage[] = [];
  private current = 0;
  /** Random masks drawn so far (each draw its own seed). */
  private draws = 0;
  readonly view = new GridView(document.getElementById('inpaint-grids')!, 1, ['occluded', 'recovered']);
  /** Called once a recovery is drawn (the inspector remembers it). */
  onRecovered: (reply: Replies['inpaint']) => void = () => {};

  /** `call`: a request to the worker (the masks are the library's, as the command line's). */
  constructor(private call: Call) {}

  layout(scales: number[]) {
    this.view.layout(scales);
  }

  /** Held-out images of this bundled dataset are the ones to recover. */
  async start(dataset: Dataset) {
    try {
      this.sources = await packedImages(datasetBase(dataset), 'held-out');
    } catch {
      return; // the panel stays empty without the bundled set
    }
    this.bind();
    await this.useMask('centre');
    await this.show(0);
  }

  private bind() {
    let painting = false;
    const paint = (e: PointerEvent) => {
      const r = this.canvas.getBoundingClientRect();
      const cx = Math.floor(((e.clientX - r.left) / r.width) * SIZE);
      const cy = Math.floor(((e.clientY - r.top) / r.height) * SIZE);
      for (let y = cy - BRUSH; y <= cy + BRUSH; y++)
        for (let x = cx - BRUSH; x <= cx + BRUSH; x++)
          if (x >= 0 && y >= 0 && x < SIZE && y < SIZE && (x - cx) ** 2 + (y - cy) ** 2 <= BRUSH * BRUSH) this.mask[y * SIZE + x] = 1;
      this.render();
    };
    this.canvas.addEventListener('pointerdown', (e) => {
      painting = true;
      this.canvas.setPointerCapture(e.pointerId);
      paint(e);
    });
    this.canvas.addEventListener('pointermove', (e) => painting && paint(e));
    this.canvas.addEventListener('pointerup', () => (painting = false));
    const on = (id: string, f: () => void) => ((document.getElementById(id) as HTMLButtonElement).onclick = f);
    on('inpaint-next', () => void this.show(this.current + 1));
    on('mask-centre', () => void this.useMask('centre'));
    on('mask-random', () => void this.useMask('random:0.5', ++this.draws));
    on('mask-clear', () => {
      this.mask.fill(0);
      this.render();
    });
    on('inpaint-run', () => void this.recover());
  }

  /** A mask the library makes (`multigrid inpaint --mask` names them the same way). */
  private async useMask(kind: string, seed = 0) {
    const r = await this.call({ kind: 'mask', mask: kind, size: SIZE, seed });
    if (!r) return;
    this.mask = new Uint8Array(r.mask);
    this.render();
  }

  private async show(index: number) {
    if (this.sources.length === 0) return;
    this.current = index % this.sources.length;
    const source = this.sources[this.current];
    const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(source.rgba), source.width, source.height));
    const scratch = new OffscreenCanvas(SIZE, SIZE).getContext('2d')!;
    const side = Math.min(bitmap.width, bitmap.height);
    scratch.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, SIZE, SIZE);
    this.pixels = scratch.getImageData(0, 0, SIZE, SIZE).data;
    this.render();
  }

  /** The image with the occluded pixels tinted. */
  private render() {
    const shown = new Uint8ClampedArray(this.pixels);
    this.mask.forEach((m, i) => {
      if (m) shown.set([Math.round(shown[4 * i] * 0.4 + 153), Math.round(shown[4 * i + 1] * 0.4), Math.round(shown[4 * i + 2] * 0.4 + 60)], 4 * i);
    });
    this.canvas.getContext('2d')!.putImageData(new ImageData(shown, SIZE, SIZE), 0, 0);
  }

  private async recover() {
    const out = document.getElementById('inpaint-error')!;
    out.textContent = 'recovering…';
    const r = await this.call({ kind: 'inpaint', rgba: new Uint8Array(this.pixels), mask: new Uint8Array(this.mask), width: SIZE, height: SIZE, frameEvery: 5 });
    if (!r) {
      out.textContent = '';
      return;
    }
    this.view.showObserved(r.masked);
    await this.view.animate(r.frames, r.recovered, 30);
    this.onRecovered(r);
    out.textContent = `mean error on the hidden pixels: ${r.error.toFixed(1)} grey levels (of 255)`;
  }
}
