// The training loop, as the person drives it: Train/Pause, Step and Sample. One iteration is
// one `learn` request; the library's guard decides what happened (`Step`), this shows it.
import { writeUrl } from './address';
import { run } from './backend';
import { currentChoice, fillControls } from './controls';
import type { Replies } from './protocol';
import { saveNow, snapshot } from './saving';
import { imagesLoaded, store } from './store';
import { $, message, setIteration, status } from './ui';
import { SHOWN, views } from './views';

/** Langevin frames are always kept (an image opened large replays its chain): every step in
 *  slow motion, else every T/6th of the model's chain; drawn when "animate Langevin" is on. */
function frameEvery(): number {
  const steps = store.model?.chain_steps ?? 1;
  return $<HTMLInputElement>('slow').checked ? 1 : Math.max(1, Math.floor(steps / 6));
}

function animating(): boolean {
  return $<HTMLInputElement>('animate').checked;
}

function requestLearn(): Promise<Replies['learn'] | undefined> {
  return run(() => store.client.call({ kind: 'learn', frameEvery: frameEvery() }));
}

/** One iteration, asked for and shown (the Step button). */
export async function learnOnce() {
  const started = performance.now();
  const r = await requestLearn();
  if (r) await showLearned(r, (performance.now() - started) / 1000);
}

/** Show a learning step's reply; `seconds` is what it took, for the it/s figure. */
async function showLearned(r: Replies['learn'], seconds: number) {
  const step = r.step;
  if (step.event === 'stopped') {
    setIteration(step.kept);
    message(step.message, 'error');
    setPlaying(false);
    return;
  }
  if (step.event === 'rollback') {
    // The divergence guard went back to a good state with a lower learning rate.
    setIteration(step.to);
    document.body.dataset.rollbacks = String(Number(document.body.dataset.rollbacks ?? 0) + 1);
    message(`Rolled back to iteration ${step.to}, learning rate lowered to ${step.lr.toPrecision(3)}: ${step.reason}.`);
    if (r.config && store.model) {
      store.model.config = r.config;
      fillControls(r.config, currentChoice());
      writeUrl(currentChoice(), store.url.backend);
    }
    return;
  }
  setIteration(step.iteration);
  if (store.model) store.model.iteration = step.iteration;
  if (step.warning) message(step.warning, 'warning');
  store.recentSeconds = [...store.recentSeconds.slice(-9), seconds];
  const itersPerSecond = store.recentSeconds.length / store.recentSeconds.reduce((a, b) => a + b, 0);
  $('speed').textContent = `${itersPerSecond.toFixed(2)} it/s`;
  views.charts.push(step.iteration, step.grids, itersPerSecond);
  $('charts').dataset.points = String(views.charts.points);
  views.grids.showObserved(r.observed);
  views.inspector.learned(views.grids, r);
  if (r.frames.length > 0 && animating()) await views.grids.animate(r.frames, r.synthesized);
  else views.grids.showSynthesized(r.synthesized);
  await snapshot(step.iteration);
}

export async function sample() {
  const seed = currentChoice().seed;
  const r = await run(() => store.client.call({ kind: 'sample', n: SHOWN, seed, frameEvery: frameEvery() }));
  if (!r) return;
  views.inspector.sampled(views.grids, r);
  if (r.frames.length > 0 && animating()) await views.grids.animate(r.frames, r.synthesized);
  else views.grids.showSynthesized(r.synthesized);
  status(`sampled ${SHOWN} images in ${r.seconds.toFixed(2)} s`);
  document.body.dataset.sampled = String(Number(document.body.dataset.sampled ?? 0) + 1);
}

export function setPlaying(on: boolean) {
  store.playing = on;
  const button = $('train');
  button.textContent = on ? 'Pause' : 'Train';
  button.setAttribute('aria-pressed', String(on));
  document.body.dataset.playing = String(on);
}

export async function play() {
  if (store.playing) return;
  if (store.imagesLoading > 0) {
    // Pressed while the images load: training starts once they are in.
    status('training starts once the images are in…');
    await imagesLoaded();
    if (store.playing) return; // pressed again meanwhile: that press trains
  }
  if (!store.model || store.model.image_count === 0) {
    message('Add some images first (or press “Bundled images”).', 'error');
    return;
  }
  setPlaying(true);
  status('training…');
  // The next iteration is asked for before this one is drawn, so that the worker learns while
  // the page draws; the it/s figure is the time between replies. A request that fails stops
  // training, unless the model moved to another backend (`fallbacks` changed) since it was made.
  const request = () => ({ fallbacks: store.fallbacks, reply: requestLearn() });
  let pending = request();
  let last = performance.now();
  while (store.playing) {
    const r = await pending.reply;
    const seconds = (performance.now() - last) / 1000;
    last = performance.now();
    if (r === undefined) {
      if (store.fallbacks === pending.fallbacks) setPlaying(false);
      else if (store.playing) pending = request(); // moved to another backend: go on there
      continue;
    }
    pending = store.playing && r.step.event !== 'stopped' ? request() : { fallbacks: store.fallbacks, reply: Promise.resolve(undefined) };
    await showLearned(r, seconds);
  }
  const r = await pending.reply;
  if (r) await showLearned(r, (performance.now() - last) / 1000);
  status('paused');
  views.inspector.refresh();
  await saveNow();
}
