// A short guided tour of the page, in data order and in the paper's words (Gao, Lu, Zhou, Zhu &
// Wu, CVPR 2018): the 1×1 grid, up-sampling, Langevin dynamics under each grid's energy f, and the
// update of every grid's net. Shown on a first visit, remembered once skipped or finished (in
// localStorage, where there is one), replayed by the Tour button. `?tour=off` never shows it by
// itself, `?tour=on` always does.
//
// The card is a non-modal dialog: the page stays usable while it is open. Each step outlines the
// part of the page it describes and scrolls it into view.

const STORAGE_KEY = 'multigrid-ebm.tour';
const HIGHLIGHT = 'tour-target';

interface Step {
  id: string;
  title: string;
  text: string;
  /** What the step is about on the page; the first that exists is outlined. */
  targets: string[];
}

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';
const sub = (n: number) => String(n).replace(/\d/g, (d) => SUBSCRIPTS[Number(d)]);
const grid = (s: number) => `${s}×${s}`;
const block = (s: number) => `#grids .grid-block[data-size="${s}"]`;

/** The steps for a model with these grid sizes (coarse to fine). */
export function tourSteps(scales: number[]): Step[] {
  const [first, second, ...finer] = scales.length >= 2 ? scales : [1, 4, 16, 64];
  const finest = finer.length > 0 ? finer[finer.length - 1] : second;
  const steps: Step[] = [
    {
      id: 'model',
      title: 'One energy-based model per grid',
      text:
        `For each grid above ${grid(first)} (${[second, ...finer].map(grid).join(', ')}) the page learns an energy-based model ` +
        'p(I) ∝ exp(f(I)), where f is a bottom-up ConvNet. Each block below is one grid, coarse to fine: the observed images ' +
        'down-sampled to it on top, synthesized images beneath. This tour follows one learning iteration in the order the data flows.',
      targets: ['section[aria-labelledby="grids-title"]', '#grids'],
    },
    {
      id: `grid-${first}`,
      title: `The ${grid(first)} grid: where every chain starts`,
      text:
        `Each observed image is down-sampled to its minimal ${grid(first)} version: the per-channel mean, one colour. ` +
        'Sampling is initialized from it, so every synthesized image begins as the mean colour of an observed image.',
      targets: [block(first), '#grids'],
    },
    {
      id: `upsample-${second}`,
      title: `Up-sample to ${grid(second)}`,
      text: `The ${grid(first)} image is up-sampled to ${grid(second)} by repeating its pixels: a flat ${grid(second)} image, the start of the ${grid(second)} chain.`,
      targets: [block(second), '#grids'],
    },
    {
      id: `grid-${second}`,
      title: `Langevin dynamics under f${sub(second)}`,
      text:
        `f${sub(second)} is the ${grid(second)} grid's ConvNet energy. T steps of Langevin dynamics (the T and δ controls) move the image ` +
        `uphill on it, each step along the gradient ∂f${sub(second)}/∂I with step size δ, plus noise if “noise” is on. ` +
        `Where this finite-step MCMC ends is the ${grid(second)} synthesized image.`,
      targets: [block(second), '#grids'],
    },
  ];
  let previous = second;
  for (const size of finer) {
    const last = size === finest;
    steps.push({
      id: `grid-${size}`,
      title: `Up-sample to ${grid(size)}, then Langevin under f${sub(size)}`,
      text:
        `The synthesized ${grid(previous)} image is up-sampled to ${grid(size)} and a finite-step MCMC under f${sub(size)} starts from it: ` +
        'each grid refines the result of the coarser one.' +
        (last ? ` The ${grid(size)} synthesized images are the model's samples; Sample draws new ones.` : ''),
      targets: [block(size), '#grids'],
    });
    previous = size;
  }
  steps.push(
    {
      id: 'update',
      title: 'The update: learning from the difference',
      text:
        "Then every grid's net learns at once, separately and simultaneously, from the difference between observed and " +
        'synthesized images (maximum likelihood): f goes up on the observed images and down on the synthesized ones. ' +
        'The loss chart shows that gap per grid.',
      targets: ['#charts'],
    },
    {
      id: 'train',
      title: 'Your turn',
      text:
        'Train repeats the iteration (space), Step runs one (s), Sample draws new images from the model (r). ' +
        'Tick “animate Langevin” to watch the chains move. The Tour button plays this tour again.',
      targets: ['#toolbar .group.play', '#toolbar'],
    },
  );
  return steps;
}

function remembered(): boolean {
  try {
    return window.localStorage.getItem(STORAGE_KEY) === 'done';
  } catch {
    return false; // no storage (private mode, blocked): show it; it cannot be remembered
  }
}

function remember() {
  try {
    window.localStorage.setItem(STORAGE_KEY, 'done');
  } catch {
    // Nothing to do: the tour shows again next time.
  }
}

export class Tour {
  private steps: Step[] = [];
  private index = 0;
  private card: HTMLElement;
  private counter: HTMLElement;
  private heading: HTMLElement;
  private body: HTMLElement;
  private back: HTMLButtonElement;
  private next: HTMLButtonElement;
  private skip: HTMLButtonElement;
  private outlined: Element | null = null;
  private returnFocus: HTMLElement | null = null;

  constructor(
    private button: HTMLElement,
    private scales: () => number[],
  ) {
    this.card = document.createElement('section');
    this.card.id = 'tour';
    this.card.hidden = true;
    this.card.setAttribute('role', 'dialog');
    this.card.setAttribute('aria-modal', 'false');
    this.card.setAttribute('aria-labelledby', 'tour-title');
    this.card.setAttribute('aria-describedby', 'tour-text');
    this.card.innerHTML = `
      <p class="tour-counter" id="tour-counter"></p>
      <h2 id="tour-title" tabindex="-1"></h2>
      <p id="tour-text"></p>
      <div class="tour-buttons">
        <button type="button" id="tour-skip">Skip tour</button>
        <span class="tour-nav">
          <button type="button" id="tour-back">Back</button>
          <button type="button" id="tour-next" class="primary">Next</button>
        </span>
      </div>`;
    document.body.append(this.card);
    const get = <T extends HTMLElement>(id: string) => this.card.querySelector(`#${id}`) as T;
    this.counter = get('tour-counter');
    this.heading = get('tour-title');
    this.body = get('tour-text');
    this.back = get('tour-back');
    this.next = get('tour-next');
    this.skip = get('tour-skip');
    this.back.onclick = () => this.go(this.index - 1);
    this.next.onclick = () => (this.index === this.steps.length - 1 ? this.close() : this.go(this.index + 1));
    this.skip.onclick = () => this.close();
    this.card.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
      } else if (e.key === 'ArrowRight' && this.index < this.steps.length - 1) this.go(this.index + 1);
      else if (e.key === 'ArrowLeft' && this.index > 0) this.go(this.index - 1);
    });
    this.button.addEventListener('click', () => this.open());
  }

  get isOpen(): boolean {
    return !this.card.hidden;
  }

  /** Open the tour unless it was skipped or finished before (or the URL says `tour=off`). */
  showOnFirstVisit() {
    const asked = new URLSearchParams(location.search).get('tour');
    if (asked === 'off' || (asked !== 'on' && remembered())) return;
    this.open();
  }

  open() {
    this.steps = tourSteps(this.scales());
    const active = document.activeElement;
    this.returnFocus = active instanceof HTMLElement && active !== document.body && !this.card.contains(active) ? active : null;
    this.card.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    document.body.dataset.tour = 'open';
    this.go(0);
    this.next.focus();
  }

  /** Bring the open step up to date with the page (a model with other grids has come up). */
  refresh() {
    if (this.isOpen) this.go(this.index, false);
  }

  /** Skip or finish: either way the tour is not shown by itself again. */
  close() {
    if (!this.isOpen) return;
    remember();
    this.card.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    document.body.dataset.tour = 'closed';
    this.outline(null);
    const back = this.returnFocus?.isConnected ? this.returnFocus : this.button;
    back.focus();
  }

  private go(index: number, scroll = true) {
    // The model's grids may have changed since the last step (the tour can open before the model
    // is up): rebuild the steps and keep to the step asked for by its id.
    const wanted = this.steps[Math.max(0, Math.min(index, this.steps.length - 1))]?.id;
    this.steps = tourSteps(this.scales());
    const found = this.steps.findIndex((s) => s.id === wanted);
    this.index = found >= 0 ? found : Math.max(0, Math.min(index, this.steps.length - 1));
    const step = this.steps[this.index];
    this.card.dataset.step = step.id;
    this.counter.textContent = `Step ${this.index + 1} of ${this.steps.length}`;
    this.heading.textContent = step.title;
    this.body.textContent = step.text;
    const hadFocus = this.card.contains(document.activeElement);
    this.back.disabled = this.index === 0;
    this.next.textContent = this.index === this.steps.length - 1 ? 'Done' : 'Next';
    // A disabled Back button drops focus: keep it in the card, on Next.
    if (hadFocus && (document.activeElement === document.body || document.activeElement === this.back) && this.back.disabled) this.next.focus();
    const target = step.targets.map((s) => document.querySelector(s)).find((e) => e !== null) ?? null;
    this.outline(target, scroll || target !== this.outlined);
  }

  private outline(target: Element | null, scroll = true) {
    this.outlined?.classList.remove(HIGHLIGHT);
    this.outlined = target;
    if (!target) return;
    target.classList.add(HIGHLIGHT);
    if (!scroll) return;
    const still = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
    target.scrollIntoView({ block: 'center', behavior: still ? 'auto' : 'smooth' });
  }
}
