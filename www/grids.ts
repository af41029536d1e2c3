// Every grid on canvases, coarse to fine: a row of observed and a row of synthesized images per
// grid, at the grid's own resolution scaled up with crisp pixels (the 1×1 grid as colour swatches).
// Column i of every row is one chain: synthesized image i started from the 1×1 colour of the
// observed image above it (where that holds; `setNote` says when it does not). Every painted
// image can be opened large (`onInspect`): click it, or reach the grid with Tab, move with the
// arrow keys and press Enter or Space.
import type { Frame, GridImages } from './protocol';

export type Which = 'observed' | 'synthesized';

/** One image on a view: its row, grid (index into the scales, coarse to fine) and column. */
export interface Cell {
  view: GridView;
  which: Which;
  grid: number;
  size: number;
  index: number;
  canvas: HTMLCanvasElement;
}

interface Row {
  which: Which;
  label: string;
  canvases: HTMLCanvasElement[];
  strip: HTMLElement;
  /** Said in place of the images when there are none to show (e.g. `showObserved([], why)`). */
  note: HTMLElement;
}

interface Block {
  size: number;
  observed: Row;
  synthesized: Row;
}

/** An energy as the page writes it: one decimal, a real minus sign. */
export function formatEnergy(value: number): string {
  const text = Math.abs(value) >= 1e6 ? value.toExponential(3) : value.toFixed(1);
  return text.replace('-', '−');
}

function makeRow(parent: HTMLElement, which: Which, label: string, size: number, shown: number): Row {
  const row = document.createElement('div');
  row.className = 'row';
  row.dataset.which = which;
  const caption = document.createElement('span');
  caption.className = 'row-label';
  caption.textContent = label;
  row.append(caption);
  const strip = document.createElement('div');
  strip.className = 'strip';
  const canvases = Array.from({ length: shown }, () => {
    const c = document.createElement('canvas');
    c.width = c.height = size;
    c.className = size === 1 ? 'tile swatch empty' : 'tile empty';
    strip.append(c);
    return c;
  });
  const note = document.createElement('span');
  note.className = 'row-note';
  note.hidden = true;
  row.append(strip, note);
  parent.append(row);
  return { which, label, canvases, strip, note };
}

export class GridView {
  private blocks: Block[] = [];
  /** Says how the columns relate (above the grids); hidden when there is nothing to say. */
  private note = document.createElement('p');
  private energies: Record<Which, number[][] | null> = { observed: null, synthesized: null };
  /** The images the energies are for: drawing other ones forgets them. */
  private energyImages: Record<Which, GridImages[] | null> = { observed: null, synthesized: null };
  private withBatch = false;
  /** While `animate` draws a chain's frames, labels name no energy (they are for the result). */
  private animating = false;
  /** Called when a painted image is clicked, or activated with Enter or Space. */
  onInspect: ((cell: Cell) => void) | null = null;

  constructor(
    private root: HTMLElement,
    private shown = 8,
    readonly labels: [string, string] = ['observed', 'synthesized'],
  ) {
    this.note.className = 'grid-note';
    this.note.hidden = true;
    this.root.addEventListener('click', (e) => this.activate(e.target));
    this.root.addEventListener('keydown', (e) => this.key(e));
  }

  /** Build one block per scale (coarse to fine). */
  layout(scales: number[]) {
    if (this.blocks.map((b) => b.size).join() === scales.join()) return;
    this.root.replaceChildren(this.note);
    this.energies = { observed: null, synthesized: null };
    this.blocks = scales.map((size, k) => {
      const block = document.createElement('div');
      block.className = 'grid-block';
      block.dataset.size = String(size);
      // Large grids' images are drawn at their own size or more (style.css).
      if (size >= 32) {
        block.dataset.large = '';
        block.style.setProperty('--px', `${size}px`);
      }
      const title = document.createElement('h3');
      title.innerHTML =
        k === 0
          ? `${size}×${size} grid <small>the per-channel mean: where every chain starts</small>`
          : `${size}×${size} grid <small>up-sample the ${scales[k - 1]}×${scales[k - 1]} result, then Langevin under f<sub>${size}</sub></small>`;
      block.append(title);
      const observed = makeRow(block, 'observed', this.labels[0], size, this.shown);
      const synthesized = makeRow(block, 'synthesized', this.labels[1], size, this.shown);
      this.root.append(block);
      return { size, observed, synthesized };
    });
    this.relabel();
  }

  get scales(): number[] {
    return this.blocks.map((b) => b.size);
  }

  /** A sentence about the columns above the grids (null: none). */
  setNote(text: string | null) {
    this.note.textContent = text ?? '';
    this.note.hidden = !text;
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

  /** Show a row of images per grid. With no images and a reason (`missing`), every row of
   *  this kind is emptied and says the reason instead. */
  private show(which: Which, images: GridImages[], missing?: string) {
    if (images !== this.energyImages[which]) this.energies[which] = null;
    this.blocks.forEach((block, k) => {
      const row = block[which];
      const none = images.length === 0 && missing !== undefined;
      row.note.textContent = none ? missing : '';
      row.note.hidden = !none;
      row.strip.hidden = none;
      if (none) this.draw(row, { size: block.size, count: 0, rgba: new Uint8Array(0) });
      else if (images[k]) this.draw(row, images[k]);
    });
    this.relabel();
  }

  showObserved(images: GridImages[], missing?: string) {
    this.show('observed', images, missing);
  }

  showSynthesized(images: GridImages[], missing?: string) {
    this.show('synthesized', images, missing);
  }

  /** Play the Langevin chain: each kept frame on its grid's synthesized row, then the result. */
  async animate(frames: Frame[], final: GridImages[], msPerFrame = 40) {
    this.animating = true;
    try {
      for (const f of frames) {
        const block = this.blocks[f.grid];
        if (!block) continue;
        this.draw(block.synthesized, { size: block.size, count: f.rgba.length / (4 * block.size * block.size), rgba: f.rgba });
        await new Promise((r) => setTimeout(r, msPerFrame));
      }
    } finally {
      this.animating = false;
    }
    this.showSynthesized(final);
  }

  /** f(I) of the shown images, per grid coarse to fine (as the worker's `energies` reply gives
   *  them; [] for the 1×1 grid), for the labels; null: not known. Under batch normalisation
   *  (`withBatch`) an image's energy depends on the rest of its batch, and the labels say so.
   *  `images`: the images they are for, as drawn (showing them again keeps the energies). */
  setEnergies(which: Which, values: number[][] | null, withBatch = false, images: GridImages[] | null = null) {
    this.energies[which] = values;
    this.energyImages[which] = values ? images : null;
    this.withBatch = withBatch;
    this.relabel();
  }

  /** f(I) of one shown image, if known. */
  energy(which: Which, grid: number, index: number): number | undefined {
    return this.energies[which]?.[grid]?.[index];
  }

  /** What a screen reader says for an image, and its tooltip. */
  describe(which: Which, grid: number, index: number): string {
    const block = this.blocks[grid];
    const row = block[which];
    const size = block.size;
    let text = `${row.label} image ${index + 1} at ${size}×${size}`;
    if (row.canvases[index]?.classList.contains('empty')) return `${text}, empty`;
    if (size === 1) return `${text}: ${which === 'observed' ? 'its mean colour' : 'the colour its chain started from'} (the 1×1 grid has no net)`;
    const e = this.animating && which === 'synthesized' ? undefined : this.energy(which, grid, index);
    if (e !== undefined) text += `, energy ${formatEnergy(e)}${this.withBatch ? ' (with its batch)' : ''}`;
    return text;
  }

  /** Labels, roles and the one tab stop (a roving tabindex over the painted images). */
  private relabel() {
    const all = this.rows().flatMap((r) => r.canvases);
    let stop = all.find((c) => c.tabIndex === 0 && !c.classList.contains('empty'));
    stop ??= all.find((c) => !c.classList.contains('empty'));
    this.blocks.forEach((block, k) => {
      for (const which of ['observed', 'synthesized'] as const) {
        block[which].canvases.forEach((c, i) => {
          const painted = !c.classList.contains('empty');
          const text = this.describe(which, k, i);
          c.setAttribute('aria-label', text);
          c.dataset.which = which;
          c.dataset.grid = String(k);
          c.dataset.index = String(i);
          if (painted) {
            c.setAttribute('role', 'button');
            c.setAttribute('aria-haspopup', 'dialog');
            c.title = `${text}. Click (or Enter) to open it large`;
            c.tabIndex = c === stop ? 0 : -1;
          } else {
            c.setAttribute('role', 'img');
            c.removeAttribute('aria-haspopup');
            c.removeAttribute('title');
            c.removeAttribute('tabindex');
          }
        });
      }
    });
  }

  private rows(): Row[] {
    return this.blocks.flatMap((b) => [b.observed, b.synthesized]);
  }

  private cellOf(target: EventTarget | null): Cell | null {
    if (!(target instanceof HTMLCanvasElement) || target.classList.contains('empty')) return null;
    const grid = Number(target.dataset.grid);
    const block = this.blocks[grid];
    if (!block || target.dataset.which === undefined) return null;
    const which = target.dataset.which as Which;
    const index = block[which].canvases.indexOf(target);
    if (index < 0) return null;
    return { view: this, which, grid, size: block.size, index, canvas: target };
  }

  private activate(target: EventTarget | null) {
    const cell = this.cellOf(target);
    if (!cell || !this.onInspect) return;
    this.focus(cell.canvas);
    this.onInspect(cell);
  }

  private focus(canvas: HTMLCanvasElement) {
    for (const c of this.rows().flatMap((r) => r.canvases)) if (c.tabIndex === 0 && c !== canvas) c.tabIndex = -1;
    canvas.tabIndex = 0;
    canvas.focus();
  }

  /** Enter or Space opens the focused image; the arrow keys, Home and End move between images. */
  private key(e: KeyboardEvent) {
    const cell = this.cellOf(e.target);
    if (!cell || e.ctrlKey || e.metaKey || e.altKey) return;
    const rows = this.rows();
    const r = rows.findIndex((row) => row.canvases.includes(cell.canvas));
    const painted = (row: Row) => row.canvases.filter((c) => !c.classList.contains('empty'));
    const inRow = painted(rows[r]);
    const at = inRow.indexOf(cell.canvas);
    let next: HTMLCanvasElement | undefined;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        e.stopPropagation(); // space is also the page's Train key
        this.activate(cell.canvas);
        return;
      case 'ArrowLeft':
        next = inRow[at - 1];
        break;
      case 'ArrowRight':
        next = inRow[at + 1];
        break;
      case 'Home':
        next = inRow[0];
        break;
      case 'End':
        next = inRow[inRow.length - 1];
        break;
      case 'ArrowUp':
      case 'ArrowDown': {
        const step = e.key === 'ArrowUp' ? -1 : 1;
        for (let k = r + step; k >= 0 && k < rows.length; k += step) {
          const other = painted(rows[k]);
          if (other.length > 0) {
            next = other[Math.min(cell.index, other.length - 1)];
            break;
          }
        }
        break;
      }
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
    if (next) this.focus(next);
  }

  /** Fraction of non-blank synthesized canvases per grid (for tests and the status line). */
  painted(): number[] {
    return this.blocks.map((b) => b.synthesized.canvases.filter((c) => !c.classList.contains('empty')).length);
  }
}
