// What each view shows, and what the worker can still say about it. The worker answers
// `energies`, `nearest` and `frame-energies` for the images its session shows now, which the
// `shown` value of every reply names: a view remembers the reply it drew (`Drawn`), and asks
// only while the session still shows those images. This file is that bookkeeping and those
// requests; www/inspect.ts is what the person sees of them.
import type { WorkerClient } from './client';
import type { GridView } from './grids';
import type { Frame, GridImages, Method, ModelInfo, Nearest } from './protocol';

/** What a view shows: the worker's reply that drew it, with the model settings it ran under. */
export interface Drawn {
  shown: number;
  kind: 'learn' | 'sample' | 'inpaint' | 'observed';
  method: Method;
  batchNorm: boolean;
  /** Langevin steps of one grid's chain (multi-grid), or of the finest grid's chain (CD, PCD). */
  steps: number;
  observed: GridImages[];
  synthesized: GridImages[];
  frames: Frame[];
  /** Synthesized image i's chain started from observed image i (its colour, or itself in CD). */
  paired: boolean;
  /** A sample whose chains started from colours of the model's training images (none in the page). */
  outside: boolean;
  /** Whether the session still shows these synthesized images at `shown` (false after a
   *  `show-observed` that followed another view's images). */
  synthesizedCurrent: boolean;
  energies: { observed: number[][] | null; synthesized: number[][] | null };
  /** The `energies` request in flight, if any. */
  fetching: Promise<void> | null;
}

export interface ViewState {
  view: GridView;
  /** Offer the nearest observed image (the main grids; not the recovery panel). */
  nearest: boolean;
  drawn: Drawn | null;
}

/** Why the worker cannot say more about drawn images. */
export const STALE = 'Not available: the model has shown other images since these were drawn.';
export const TRAINING = 'Not available while training runs (the model moves on every iteration): pause and open it again.';

export class ShownRecords {
  readonly views: ViewState[] = [];
  /** The newest `shown` seen: the images the session shows now (if no request is in flight). */
  private latest = -1;
  /** Called when the energies of a view's images arrive. */
  onEnergies: (state: ViewState, drawn: Drawn) => void = () => {};

  /** `client`: the worker's client now (it changes after a move to the CPU); `model`: the model
   *  the worker described; `busy`: training runs (energies are then fetched on demand). */
  constructor(
    private client: () => WorkerClient,
    private model: () => ModelInfo | null,
    readonly busy: () => boolean,
  ) {}

  attach(view: GridView, nearest: boolean): ViewState {
    const state: ViewState = { view, nearest, drawn: null };
    this.views.push(state);
    return state;
  }

  state(view: GridView): ViewState | undefined {
    return this.views.find((s) => s.view === view);
  }

  /** Remember a reply drawn on `view`; its energies are not known yet. */
  remember(view: GridView, kind: Drawn['kind'], shown: number, observed: GridImages[], synthesized: GridImages[], frames: Frame[]): Drawn | null {
    const state = this.state(view);
    if (!state) return null;
    this.latest = Math.max(this.latest, shown);
    const model = this.model();
    state.drawn = {
      shown,
      kind,
      method: model?.config.method ?? 'multigrid',
      batchNorm: model?.config.norm === 'batch',
      steps: model?.chain_steps ?? 0,
      observed,
      synthesized,
      frames,
      paired: false,
      outside: false,
      synthesizedCurrent: true,
      energies: { observed: null, synthesized: null },
      fetching: null,
    };
    return state.drawn;
  }

  /** Whether the session still shows these images (`which` of them). */
  current(drawn: Drawn | null | undefined, which: 'observed' | 'synthesized' = 'observed'): drawn is Drawn {
    return !!drawn && drawn.shown === this.latest && (which === 'observed' || drawn.synthesizedCurrent);
  }

  /** Ask for the energies of what `view` shows, unless training runs (it would slow it). */
  energiesSoon(view: GridView) {
    const state = this.state(view);
    if (state?.drawn && !this.busy()) void this.energies(state);
  }

  /** The energies of what a view shows, fetched once (resolves when known, or not to be known). */
  energies(state: ViewState): Promise<void> {
    const drawn = state.drawn;
    if (!drawn || drawn.shown !== this.latest) return Promise.resolve();
    if (drawn.energies.observed && (drawn.energies.synthesized || !drawn.synthesizedCurrent)) return Promise.resolve();
    drawn.fetching ??= this.askEnergies(state, drawn).finally(() => (drawn.fetching = null));
    return drawn.fetching;
  }

  private async askEnergies(state: ViewState, drawn: Drawn): Promise<void> {
    let r;
    try {
      r = await this.client().call({ kind: 'energies' });
    } catch {
      return; // the next learn or sample reports a failing model
    }
    this.latest = Math.max(this.latest, r.shown);
    if (r.shown !== drawn.shown || state.drawn !== drawn) return;
    drawn.energies.observed = r.observed;
    if (drawn.synthesizedCurrent) drawn.energies.synthesized = r.synthesized;
    this.onEnergies(state, drawn);
  }

  /** The energy of every kept Langevin frame of `drawn`, or null where it cannot be known now. */
  async frameEnergies(drawn: Drawn): Promise<number[][] | null> {
    if (!this.current(drawn) || this.busy()) return null;
    try {
      const r = await this.client().call({ kind: 'frame-energies' });
      return r.shown === drawn.shown ? r.energies : null;
    } catch {
      return null;
    }
  }

  /** The observed image nearest to synthesized image `index` at `grid` of `drawn`: the image,
   *  null where the page has none, or why it cannot be known now (a sentence). */
  async nearest(drawn: Drawn, grid: number, index: number): Promise<Nearest | null | { why: string }> {
    if (!this.current(drawn, 'synthesized')) return { why: `${STALE} Step or Sample and open it again.` };
    try {
      const r = await this.client().call({ kind: 'nearest', scale: grid, index });
      this.latest = Math.max(this.latest, r.shown);
      if (r.shown !== drawn.shown) return { why: this.busy() ? TRAINING : STALE };
      return r.nearest;
    } catch (e) {
      return { why: `Not available: ${e instanceof Error ? e.message : e}` };
    }
  }
}
