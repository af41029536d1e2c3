// Every grid on canvases, coarse to fine: a row of observed and a row of synthesized images per
// grid, at the grid's own resolution scaled up with crisp pixels (the 1×1 grid as colour swatches).
import type { Frame, GridImages } from './protocol';

interface Row {
  canvases: HTMLCanvasElement[];
}

interface Block {
  size: number;
  observed: Row;
  synthesized: Row;
}

function makeRow(parent: HTMLElement, label: string, size: number, shown: number): Row {
  const row = document.createElement('div');
  row.className = 'row';
  const caption = document.createElement('span');
  caption.className = 'row-label';
  caption.textContent = label;
  row.append(caption);
  const strip = document.createElement('div');
  strip.className = 'strip';
  const canvases = Array.from({ length: shown }, (_, i) => {
    const c = document.createElement('canvas');
    c.width = c.height = size;
    c.className = size === 1 ? 'tile swatch empty' : 'tile empty';
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', `${label} image ${i + 1} at ${size}×${size}`);
    strip.append(c);
    return c;
  });
  row.append(strip);
  parent.append(row);
  return { canvases };
}

export class GridView {
  private blocks: Block[] = [];

  constructor(
    private root: HTMLElement,
    private shown = 8,
    private labels = ['observed', 'synthesized'],
  ) {}

  /** Build one block per scale (coarse to fine). */
  layout(scales: number[]) {
    if (this.blocks.map((b) => b.size).join() === scales.join()) return;
    this.root.replaceChildren();
    this.blocks = scales.map((size, k) => {
      const block = document.createElement('div');
      block.className = 'grid-block';
      block.dataset.size = String(size);
      const title = document.createElement('h3');
      title.innerHTML =
        k === 0
          ? `${size}×${size} grid <small>the per-channel mean: where every chain starts</small>`
          : `${size}×${size} grid <small>up-sample the ${scales[k - 1]}×${scales[k - 1]} result, then Langevin under f<sub>${size}</sub></small>`;
      block.append(title);
      const observed = makeRow(block, this.labels[0], size, this.shown);
      const synthesized = makeRow(block, this.labels[1], size, this.shown);
      this.root.append(block);
      return { size, observed, synthesized };
    });
  }

  private draw(row: Row, images: GridImages) {
    const { size, count, rgba } = images;
    const per = size * size * 4;
    row.canvases.forEach((canvas, i) => {
      if (i >= count) {
        canvas.getContext('2d')!.clearRect(0, 0, size, size);
        canvas.classList.add('empty');
        return;
      }
      const ctx = canvas.getContext('2d')!;
      ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer as ArrayBuffer, rgba.byteOffset + i * per, per), size, size), 0, 0);
      canvas.classList.remove('empty');
    });
  }

  showObserved(images: GridImages[]) {
    images.forEach((im, k) => this.blocks[k] && this.draw(this.blocks[k].observed, im));
  }

  showSynthesized(images: GridImages[]) {
    images.forEach((im, k) => this.blocks[k] && this.draw(this.blocks[k].synthesized, im));
  }

  /** Play the Langevin chain: each kept frame on its grid's synthesized row, then the result. */
  async animate(frames: Frame[], final: GridImages[], msPerFrame = 40) {
    for (const f of frames) {
      const block = this.blocks[f.grid];
      if (!block) continue;
      this.draw(block.synthesized, { size: block.size, count: f.rgba.length / (4 * block.size * block.size), rgba: f.rgba });
      await new Promise((r) => setTimeout(r, msPerFrame));
    }
    this.showSynthesized(final);
  }

  /** Fraction of non-blank synthesized canvases per grid (for tests and the status line). */
  painted(): number[] {
    return this.blocks.map((b) => b.synthesized.canvases.filter((c) => !c.classList.contains('empty')).length);
  }
}
