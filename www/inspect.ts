// Inspect any image: open it large, with its energy f(I) under its grid's net, its place in the
// chain (the 1×1 colour it started from, and its Langevin steps to replay) and, for a synthesized
// image, the nearest observed image at its grid. Also says above the grids how the columns relate:
// synthesized image i sits under the observed image whose colour started its chain, except where
// it does not (persistent CD; samples of a model whose training images are not in the page).
// What the worker can still say about drawn images is www/shown.ts's business; this is the view.
import './inspect.css';
import type { WorkerClient } from './client';
import { type Cell, type GridView, formatEnergy } from './grids';
import type { GridImages, ModelInfo, Nearest, Replies } from './protocol';
import { type Drawn, STALE, ShownRecords, TRAINING, type ViewState } from './shown';

interface Still {
  size: number;
  rgba: Uint8ClampedArray;
  label: string;
  /** Index of the Langevin frame it is (in the reply's `frames`), to look its energy up. */
  frame?: number;
  /** f(I) of this state of the chain, once known. */
  energy?: number;
}

/** Image `i` of a batch, or null when the batch has fewer. */
function cut(images: GridImages | undefined, i: number): { size: number; rgba: Uint8ClampedArray } | null {
  if (!images || i >= images.count) return null;
  const per = images.size * images.size * 4;
  return { size: images.size, rgba: new Uint8ClampedArray(images.rgba.subarray(i * per, (i + 1) * per)) };
}

function paint(canvas: HTMLCanvasElement, image: { size: number; rgba: Uint8ClampedArray }) {
  canvas.width = canvas.height = image.size;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.rgba), image.size, image.size), 0, 0);
}

/** A new element with some properties (id, className, textContent, ...) and children. */
function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string | number> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

const sizeName = (size: number) => `${size}×${size}`;

export class Inspector {
  private records: ShownRecords;
  private dialog: HTMLDialogElement | null = null;
  private open: { state: ViewState; cell: Cell; drawn: Drawn | null } | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stills: Still[] = [];

  /** `client`: the worker's client now (it changes after a move to the CPU); `model`: the model
   *  the worker described; `busy`: training runs (energies are then fetched on demand). */
  constructor(client: () => WorkerClient, model: () => ModelInfo | null, private busy: () => boolean) {
    this.records = new ShownRecords(client, model, busy);
    this.records.onEnergies = (state, drawn) => {
      state.view.setEnergies('observed', drawn.energies.observed, drawn.batchNorm, drawn.observed);
      state.view.setEnergies('synthesized', drawn.energies.synthesized, drawn.batchNorm, drawn.synthesized);
      if (this.open?.drawn === drawn) this.showEnergy();
    };
  }

  /** Make a view's images open large; `nearest`: offer the nearest observed image. */
  attach(view: GridView, options: { nearest: boolean }) {
    const state = this.records.attach(view, options.nearest);
    view.onInspect = (cell) => this.show(state, cell);
  }

  // ---------------------------------------------------------------- what the views show

  /** After a learning iteration drew its batch and its chains on `view`. */
  learned(view: GridView, r: Replies['learn']) {
    const drawn = this.remember(view, 'learn', r.shown, r.observed, r.synthesized, r.frames);
    if (!drawn) return;
    drawn.paired = drawn.method !== 'pcd';
    view.setNote(
      drawn.method === 'multigrid'
        ? 'Each column is one chain: synthesized image i started from the 1×1 colour of observed image i above it (this iteration’s batch).'
        : drawn.method === 'cd'
          ? 'Contrastive divergence: synthesized image i’s chain started from observed image i above it, at the finest grid; the coarser synthesized images are block averages of its result.'
          : 'Persistent CD: the chains continue from the previous iteration’s synthesized images, so a synthesized image did not start from the observed image above it (that row is this iteration’s batch).',
    );
    this.records.energiesSoon(view);
  }

  /** After sampling drew its chains on `view` (call before animating them: it draws the
   *  observed images they started from, or says why there are none). */
  sampled(view: GridView, r: Replies['sample']) {
    const drawn = this.remember(view, 'sample', r.shown, r.observed, r.synthesized, r.frames);
    if (!drawn) return;
    drawn.paired = r.observed.length > 0;
    drawn.outside = !drawn.paired;
    if (drawn.paired) {
      view.showObserved(r.observed);
      view.setNote(
        `Sampled: each column is one chain, started from the 1×1 colour of the observed image above it${drawn.method === 'multigrid' ? '' : ' (up-sampled to the finest grid, where CD and PCD models run their chain)'}.`,
      );
    } else {
      view.showObserved([], 'not in this page: these samples start from the colours of the model’s training images');
      view.setNote('These samples start from the 1×1 colours of the model’s training images, which are not in this page, so there is no observed row to compare with. Add images to sample from their colours.');
    }
    this.records.energiesSoon(view);
  }

  /** After the first observed images were drawn on `view` (no chain ran from them yet). */
  observedShown(view: GridView, r: Replies['show-observed']) {
    const before = this.records.state(view)?.drawn;
    view.showObserved(r.observed);
    const drawn = this.remember(view, 'observed', r.shown, r.observed, before?.synthesized ?? [], before?.frames ?? []);
    if (!drawn) return;
    if (before) {
      // The trainer still shows the synthesized images only if nothing else was shown in between.
      drawn.synthesizedCurrent = before.synthesizedCurrent && before.shown === r.shown - 1;
      drawn.energies.synthesized = before.energies.synthesized;
      drawn.kind = before.kind;
      drawn.method = before.method;
      drawn.steps = before.steps;
      drawn.outside = before.outside;
      if (before.synthesized.length > 0) {
        view.setNote('The observed images are the first ones in the page; the synthesized images below came from earlier chains (not necessarily from these). Step or Sample to start chains from these.');
      }
    }
    this.records.energiesSoon(view);
  }

  /** After the recovery panel drew an occluded image and its recovery. */
  inpainted(view: GridView, r: Replies['inpaint']) {
    const drawn = this.remember(view, 'inpaint', r.shown, r.masked, r.recovered, r.frames);
    if (drawn) drawn.paired = true;
    this.records.energiesSoon(view);
  }

  /** Fetch the energies that are missing (e.g. once training pauses). */
  refresh() {
    for (const state of this.records.views) this.records.energiesSoon(state.view);
  }

  /** Remember what `view` now shows, and ask for its energies soon. */
  private remember(view: GridView, kind: Drawn['kind'], shown: number, observed: GridImages[], synthesized: GridImages[], frames: Drawn['frames']): Drawn | null {
    const drawn = this.records.remember(view, kind, shown, observed, synthesized, frames);
    view.setEnergies('observed', null);
    view.setEnergies('synthesized', null);
    return drawn;
  }

  // ---------------------------------------------------------------- the dialog

  private build(): HTMLDialogElement {
    const close = element('button', { id: 'inspect-close', type: 'button', textContent: 'Close' });
    const play = element('button', { id: 'inspect-play', type: 'button', textContent: 'Play' });
    const slider = element('input', { id: 'inspect-step', type: 'range', min: '0', max: '0', value: '0' });
    slider.setAttribute('aria-label', 'Langevin step shown');
    const dialog = element(
      'dialog',
      { id: 'inspect', className: 'inspect' },
      element('div', { className: 'inspect-head' }, element('h2', { id: 'inspect-title' }), close),
      element(
        'div',
        { className: 'inspect-body' },
        element(
          'figure',
          { className: 'inspect-figure' },
          element('canvas', { id: 'inspect-image', width: 1, height: 1 }),
          element('figcaption', { id: 'inspect-frame' }),
          element('div', { id: 'inspect-replay', className: 'inspect-replay' }, play, slider),
          element('div', { id: 'inspect-trace', className: 'inspect-trace' }),
        ),
        element(
          'div',
          { className: 'inspect-facts' },
          element('section', {}, element('h3', { textContent: 'Energy' }), element('p', { id: 'inspect-energy' })),
          element(
            'section',
            {},
            element('h3', { textContent: 'Its chain' }),
            element('p', { id: 'inspect-start', className: 'inspect-start' }, element('canvas', { id: 'inspect-start-colour', width: 1, height: 1 }), element('span')),
            element('p', { id: 'inspect-chain' }),
          ),
          element(
            'section',
            { id: 'inspect-nearest-section' },
            element('h3', { id: 'inspect-nearest-title' }),
            element('div', { id: 'inspect-nearest', className: 'inspect-nearest' }, element('canvas', { id: 'inspect-nearest-image', width: 1, height: 1 }), element('p')),
          ),
        ),
      ),
    );
    dialog.setAttribute('aria-labelledby', 'inspect-title');
    close.onclick = () => dialog.close();
    play.onclick = () => this.play();
    slider.oninput = () => {
      this.stop();
      this.frame(Number(slider.value));
    };
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener('click', (e) => {
      const r = dialog.getBoundingClientRect();
      if (e.target === dialog && (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom)) dialog.close();
    });
    // The page's shortcuts (space, s, r) stay outside: keys typed here are the dialog's.
    dialog.addEventListener('keydown', (e) => e.stopPropagation());
    dialog.addEventListener('close', () => {
      this.stop();
      const cell = this.open?.cell;
      this.open = null;
      document.body.dataset.inspecting = 'false';
      if (cell?.canvas.isConnected) cell.canvas.focus();
    });
    document.body.append(dialog);
    return dialog;
  }

  private get $() {
    return <T extends HTMLElement = HTMLElement>(id: string) => this.dialog!.querySelector(`#${id}`) as T;
  }

  private show(state: ViewState, cell: Cell) {
    this.dialog ??= this.build();
    const drawn = state.drawn;
    this.open = { state, cell, drawn };
    const $ = this.$;
    const { which, grid, size, index } = cell;
    const label = which === 'observed' ? cell.view.labels[0] : cell.view.labels[1];
    $('inspect-title').textContent = `${label[0].toUpperCase()}${label.slice(1)} image ${index + 1} at ${sizeName(size)}`;
    this.showEnergy();
    this.showChain();
    this.showNearest();
    if (!this.dialog.open) this.dialog.showModal();
    document.body.dataset.inspecting = 'true';
  }

  /** The energy of the open image, or why there is none (yet). */
  private showEnergy() {
    const open = this.open;
    if (!open) return;
    const out = this.$('inspect-energy');
    const { which, grid, size, index } = open.cell;
    const drawn = open.drawn;
    if (size === 1) {
      out.textContent = 'None: the 1×1 grid has no net (it holds the colour a chain starts from), so there is no f(I) here.';
      return;
    }
    const known = drawn?.energies[which]?.[grid]?.[index];
    if (known !== undefined) {
      out.replaceChildren(
        element('b', { textContent: `f(I) = ${formatEnergy(known)}` }),
        ` under f${subscript(size)}, the ${sizeName(size)} grid’s net${drawn!.batchNorm ? ' (with its batch: under batch normalisation an image’s energy depends on the images computed with it)' : ''}. `,
        element('span', { className: 'muted', textContent: 'Higher f means more probable under the model: p(I) ∝ exp f(I).' }),
      );
      out.dataset.energy = String(known);
      return;
    }
    delete out.dataset.energy;
    if (!this.records.current(drawn, which)) {
      out.textContent = `${STALE} Step or Sample (or pause training) and open it again.`;
      return;
    }
    out.textContent = 'computing…';
    void this.records.energies(open.state).then(() => {
      if (this.open?.drawn === drawn && drawn?.energies[which]?.[grid]?.[index] === undefined) {
        out.textContent = this.busy() ? TRAINING : STALE;
      }
    });
  }

  /** Where the open image's chain started, and its Langevin steps to replay. */
  private showChain() {
    const { cell, drawn } = this.open!;
    const $ = this.$;
    const { which, grid, size, index, view } = cell;
    const scales = view.scales;
    const finest = scales.length - 1;
    const method = drawn?.method ?? 'multigrid';
    const n = index + 1;
    const startCanvas = $<HTMLCanvasElement>('inspect-start-colour');
    const startText = $('inspect-start').querySelector('span')!;
    const chain = $('inspect-chain');
    // The result: what the canvas shows (the reply's image, or the canvas itself if not known).
    const images = drawn?.[which];
    const result = cut(images?.[grid], index) ?? {
      size,
      rgba: cell.canvas.getContext('2d')!.getImageData(0, 0, cell.canvas.width, cell.canvas.height).data,
    };
    const stills: Still[] = [];
    let colour: { size: number; rgba: Uint8ClampedArray } | null = null;
    let from = '';
    let story = '';
    const observedLabel = view.labels[0];

    if (which === 'observed') {
      colour = cut(drawn?.observed[0], index);
      from = grid === 0 ? 'Its mean colour (this image).' : `Its mean colour, the 1×1 image of this ${observedLabel} image.`;
      story =
        drawn?.paired && drawn.synthesized.length > 0
          ? method === 'cd' && drawn.kind === 'learn'
            ? `Synthesized chain ${n} below started from this image itself, at the finest grid (contrastive divergence).`
            : `Its colour started chain ${n}: the ${view.labels[1]} images below it, in every grid.`
          : method === 'pcd' && drawn?.kind === 'learn'
            ? 'Persistent CD: the chains continue from the previous iteration, so the synthesized image below did not start from this one.'
            : 'No chain shown here started from it.';
      stills.push({ ...result, label: `${observedLabel} image ${n} at ${sizeName(size)}` });
    } else {
      // The 1×1 colour chain i started from: the synthesized 1×1 image i for multi-grid chains;
      // CD and PCD chains start at the finest grid (their 1×1 image is the result's mean).
      const fromObserved = drawn?.paired ? cut(drawn.observed[0], index) : null;
      if (method === 'multigrid') {
        colour = cut(drawn?.synthesized[0], index);
        from =
          drawn?.kind === 'inpaint'
            ? 'It started from this colour: the mean of the known pixels.'
            : drawn?.paired
              ? `It started from this colour: the 1×1 image of observed image ${n}, above it.`
              : drawn?.outside
                ? 'It started from this colour: that of one of the model’s training images (not in this page).'
                : 'It started from this colour.';
      } else if (drawn?.kind === 'learn' && method === 'pcd') {
        from = 'Persistent CD: it continues the chain of the previous iteration (which began at a 1×1 colour, several iterations ago).';
      } else if (drawn?.kind === 'learn') {
        colour = fromObserved;
        from = colour
          ? `Contrastive divergence: its chain started from observed image ${n} itself, at the finest grid (its colour here).`
          : 'Contrastive divergence: its chain started from an observed image of that iteration’s batch, at the finest grid.';
      } else {
        colour = fromObserved;
        from = colour
          ? `Its chain started from this colour (observed image ${n}’s), up-sampled to the finest grid.`
          : drawn?.kind === 'inpaint'
            ? 'Its chain started from the mean of the known pixels, up-sampled to the finest grid.'
            : drawn?.outside
              ? 'Its chain started from the colour of one of the model’s training images (not in this page), up-sampled to the finest grid.'
              : 'Its chain started from a 1×1 colour, up-sampled to the finest grid.';
      }
      const ran = method === 'multigrid' ? grid >= 1 : grid === finest;
      const frames = (drawn?.frames ?? []).filter((f) => f.grid === grid);
      if (grid === 0) {
        story = method === 'multigrid' ? 'The 1×1 grid is where the chain starts: no Langevin steps here.' : 'The mean colour of the chain’s result at the finest grid.';
      } else if (!ran) {
        story = `CD and PCD run Langevin at the finest grid only: this is the block average of image ${n}’s result at ${sizeName(scales[finest])}.`;
      } else {
        if (method === 'multigrid') {
          const start = cut(drawn?.synthesized[grid - 1], index);
          if (start) stills.push({ ...start, label: `start: the ${sizeName(scales[grid - 1])} result, up-sampled` });
        } else if (drawn?.kind === 'learn' && method === 'cd' && drawn.paired) {
          const start = cut(drawn.observed[grid], index);
          if (start) stills.push({ ...start, label: `start: observed image ${n}` });
        } else if (colour && drawn?.kind !== 'learn') {
          stills.push({ ...colour, label: 'start: the 1×1 colour, up-sampled' });
        }
        for (const f of frames) {
          const frame = cut({ size, count: f.rgba.length / (4 * size * size), rgba: f.rgba }, index);
          if (frame && f.step + 1 < drawn!.steps)
            stills.push({ ...frame, label: `after Langevin step ${f.step + 1} of ${drawn!.steps}`, frame: drawn!.frames.indexOf(f) });
        }
        story =
          frames.length > 0
            ? `${drawn!.steps} Langevin steps under f${subscript(size)} at ${sizeName(size)}: replay them with Play or the slider.`
            : `${drawn?.steps ?? 'T'} Langevin steps under f${subscript(size)} at ${sizeName(size)} (no steps were kept to replay).`;
      }
      stills.push({ ...result, label: grid >= 1 && ran ? `result after ${drawn?.steps ?? 'T'} steps` : `${view.labels[1]} image ${n} at ${sizeName(size)}` });
    }

    if (colour) paint(startCanvas, colour);
    startCanvas.hidden = !colour;
    startCanvas.setAttribute('role', 'img');
    startCanvas.setAttribute('aria-label', colour ? `the colour rgb(${Array.from(colour.rgba.slice(0, 3)).join(', ')})` : '');
    startText.textContent = from;
    chain.textContent = story;
    this.stills = stills;
    const slider = $<HTMLInputElement>('inspect-step');
    slider.max = String(stills.length - 1);
    slider.value = String(stills.length - 1);
    $('inspect-replay').hidden = stills.length < 2;
    this.stop();
    this.frame(stills.length - 1);
    this.$('inspect-trace').replaceChildren();
    if (stills.some((st) => st.frame !== undefined)) void this.askFrameEnergies(stills, index);
  }

  /** The energy of each kept state of the chain (the Langevin frames), so the replay shows f
   *  rising step by step. Only for the images shown last, and not while training runs. */
  private async askFrameEnergies(stills: Still[], index: number) {
    const asked = this.open;
    const drawn = asked?.drawn;
    if (!drawn) return;
    const energies = await this.records.frameEnergies(drawn);
    if (!energies || this.open !== asked || this.stills !== stills) return;
    for (const st of stills) if (st.frame !== undefined) st.energy = energies[st.frame]?.[index];
    const last = stills[stills.length - 1];
    last.energy ??= drawn.energies[asked!.cell.which]?.[asked!.cell.grid]?.[index];
    this.trace();
    this.frame(Number(this.$<HTMLInputElement>('inspect-step').value));
  }

  /** A line of f(I) along the kept states of the chain, the shown one marked. */
  private trace(current?: number) {
    const points = this.stills.map((st, k) => [k, st.energy] as const).filter((p): p is readonly [number, number] => p[1] !== undefined);
    const box = this.$('inspect-trace');
    if (points.length < 2) {
      box.replaceChildren();
      return;
    }
    const [w, h, pad] = [240, 48, 4];
    const ys = points.map((p) => p[1]);
    const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
    const x = (k: number) => pad + ((w - 2 * pad) * k) / Math.max(1, this.stills.length - 1);
    const y = (e: number) => h - pad - ((h - 2 * pad) * (e - lo)) / (hi - lo || 1);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('width', String(w));
    svg.setAttribute('height', String(h));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `energy along the chain, from ${formatEnergy(ys[0])} to ${formatEnergy(ys[ys.length - 1])}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.map(([k, e]) => `${x(k).toFixed(1)},${y(e).toFixed(1)}`).join(' '));
    line.setAttribute('class', 'inspect-trace-line');
    svg.append(line);
    const at = current === undefined ? undefined : points.find(([k]) => k === current);
    if (at) {
      const dot = document.createElementNS(ns, 'circle');
      dot.setAttribute('cx', x(at[0]).toFixed(1));
      dot.setAttribute('cy', y(at[1]).toFixed(1));
      dot.setAttribute('r', '3');
      svg.append(dot);
    }
    const caption = element('span', { className: 'muted', textContent: 'f(I) along the chain' });
    box.replaceChildren(svg, caption);
    box.dataset.points = String(points.length);
    box.dataset.first = String(ys[0]);
    box.dataset.last = String(ys[ys.length - 1]);
  }

  private frame(k: number) {
    const still = this.stills[k];
    if (!still) return;
    const canvas = this.$<HTMLCanvasElement>('inspect-image');
    paint(canvas, still);
    canvas.setAttribute('role', 'img');
    const label = still.energy === undefined ? still.label : `${still.label} · f = ${formatEnergy(still.energy)}`;
    canvas.setAttribute('aria-label', `${this.$('inspect-title').textContent}: ${label}`);
    this.$('inspect-frame').textContent = label;
    this.$<HTMLInputElement>('inspect-step').value = String(k);
    if (this.stills.some((st) => st.energy !== undefined)) this.trace(k);
  }

  private play() {
    if (this.timer !== undefined) {
      this.stop();
      return;
    }
    let k = 0;
    this.frame(k);
    this.$('inspect-play').textContent = 'Pause';
    this.timer = setInterval(() => {
      k++;
      if (k >= this.stills.length) this.stop();
      else this.frame(k);
    }, 250);
  }

  private stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.dialog) this.$('inspect-play').textContent = 'Play';
  }

  /** For a synthesized image of the main grids: the nearest observed image at its grid. */
  private showNearest() {
    const { state, cell, drawn } = this.open!;
    const section = this.$('inspect-nearest-section');
    const wanted = state.nearest && cell.which === 'synthesized';
    section.hidden = !wanted;
    if (!wanted) return;
    this.$('inspect-nearest-title').textContent = `Nearest training image at ${sizeName(cell.size)}`;
    const canvas = this.$<HTMLCanvasElement>('inspect-nearest-image');
    const text = this.$('inspect-nearest').querySelector('p')!;
    canvas.hidden = true;
    if (!drawn) {
      text.textContent = STALE;
      return;
    }
    text.textContent = 'searching…';
    const asked = this.open;
    void this.records.nearest(drawn, cell.grid, cell.index).then((found) => {
      if (this.open !== asked) return;
      if (found === null) text.textContent = 'There are no training images in this page to compare with.';
      else if ('why' in found) text.textContent = found.why;
      else this.nearest(canvas, text, found, cell.size);
    });
  }

  private nearest(canvas: HTMLCanvasElement, text: HTMLElement, found: Nearest, size: number) {
    paint(canvas, { size, rgba: new Uint8ClampedArray(found.rgba) });
    canvas.hidden = false;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${found.name} at ${sizeName(size)}`);
    text.replaceChildren(
      element('b', { textContent: found.name }),
      ` (observed image ${found.index + 1} of the page): rms difference ${found.rms.toFixed(1)} grey levels (of 255).`,
    );
    text.dataset.rms = String(found.rms);
  }
}

function subscript(n: number): string {
  return String(n).replace(/\d/g, (d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]);
}
