// Where the model runs: work that fails on WebGPU moves the model to the CPU backend, and at
// start the page measures both backends (each in a worker of its own) and moves the model to
// the faster one.
import { fastest, measureBackends, summary } from './benchmark';
import { WorkerClient } from './client';
import { currentChoice } from './controls';
import { addImages, loadBundled } from './datasets';
import { LIMITS, TimeoutError, within } from './limits';
import { type Backend, type BackendChoice, type Choice, INPUT_ERROR_KINDS, type ModelInfo } from './protocol';
import { store } from './store';
import { $, enableModelControls, message, messageOf, stage, status, showBackend } from './ui';
import { showModel } from './views';

/** Run one piece of work; a failure becomes a message (and, on WebGPU or a remote device, a
 *  move back to this browser's CPU backend). */
export async function run<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (e) {
    message(messageOf(e), 'error');
    const kind = e instanceof Error ? e.name : 'Error';
    const where = store.model?.backend;
    if (where && where !== 'cpu' && !INPUT_ERROR_KINDS.has(kind)) {
      await fallBackToCpu(`${named(where)} failed (${messageOf(e)})`);
    }
    return undefined;
  }
}

/** Where a backend is, as messages name it. */
function named(backend: Backend): string {
  return backend === 'cpu' ? 'the CPU backend' : backend === 'webgpu' ? 'WebGPU' : `the remote device at ${store.remote?.address}`;
}

/** A fresh worker, which moves the model to the CPU if it dies. */
export function newClient(): WorkerClient {
  const client = new WorkerClient();
  client.onCrash = (text) => void fallBackToCpu(`the model's worker stopped (${text})`);
  client.onProgress = (step) => stage(`starting the model: ${step}`);
  return client;
}

/** Start the model in the worker. A start that overruns its time limit (a step that waits
 *  forever on the browser) is given up: a thread pool that did not start is tried once more in a
 *  fresh worker (in Firefox, creating a pool worker from a worker now and then blocks for good),
 *  and then the model starts on the single-threaded CPU build; the badge names the step. */
export async function startModel(backend: BackendChoice, choice: Choice, weights: ArrayBuffer | null): Promise<ModelInfo> {
  const { threads, debug } = store.url;
  if (backend === 'remote') {
    // One try, with no fallback here: a move to the remote device that fails goes back (moveModel).
    const starting = store.client.call({ kind: 'start', backend, remote: store.remote, threads: 1, debug, choice, weights }, weights ? [weights] : []);
    return within(starting, LIMITS.start, 'start-up on the remote device');
  }
  const kept = weights?.slice(0) ?? null;
  let overran: TimeoutError | null = null;
  let tries = 0;
  for (const attempt of [1, 2]) {
    tries = attempt;
    const client = store.client;
    const late = new Promise<never>((_, reject) => (client.onOverrun = (step, seconds) => reject(new TimeoutError(step, seconds))));
    try {
      const bytes = attempt === 1 ? weights : (kept?.slice(0) ?? null);
      const starting = client.call({ kind: 'start', backend, remote: null, threads, debug, choice, weights: bytes }, bytes ? [bytes] : []);
      return await Promise.race([within(starting, LIMITS.start, 'start-up'), late]);
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      overran = e;
      client.terminate();
      store.client = newClient();
      if (!e.step.startsWith('starting the thread pool')) break;
    } finally {
      client.onOverrun = () => {};
    }
  }
  const info = await store.client.call({ kind: 'start', backend: 'cpu', remote: null, threads: 1, debug, choice, weights: kept });
  const again = tries > 1 ? ', twice' : '';
  return { ...info, fallbackReason: `${overran!.message}${again}: the single-threaded CPU build runs instead`, threadsReason: null };
}

/** Move the model to another backend, keeping its weights: the latest ones where the worker
 *  still answers (a move by measurement), else those of the last finished iteration (a lost GPU
 *  device, a crashed worker). Training that was running goes on there: the training loop sees
 *  `store.fallbacks` change and does not stop. */
export function moveModel(backend: Backend, reason: string, failure: boolean): Promise<void> {
  store.moving ??= (async () => {
    let where = named(backend);
    enableModelControls(false, `Moving the model to ${where}`);
    stage(`moving the model to ${where}`);
    const current = failure ? null : await store.client.call({ kind: 'export', format: 'bpk' }).catch(() => null);
    const weights = current?.bytes ?? store.lastWeights?.slice(0) ?? null;
    const before = store.model?.backend ?? 'cpu';
    store.client.terminate();
    store.client = newClient();
    let info: ModelInfo;
    try {
      info = await startModel(backend, currentChoice(), weights?.slice(0) ?? null);
    } catch (e) {
      if (backend !== 'remote') throw e;
      // The server could not be reached or refused: the model goes back where it was.
      message(`The remote device could not be used: ${messageOf(e)}`, 'error');
      store.client.terminate();
      store.client = newClient();
      backend = before === 'remote' ? 'cpu' : before;
      [where, failure, reason] = [named(backend), false, 'back in this browser'];
      info = await startModel(backend, currentChoice(), weights);
    }
    if (failure) message(`${reason}: continuing on ${where} from iteration ${info.iteration}.`, 'error');
    else message(`${reason}: the model moved to ${where} at iteration ${info.iteration}.`);
    showModel({ ...info, fallbackReason: failure ? reason : null });
    const files = store.addedFiles;
    store.addedFiles = [];
    await (files.length > 0 ? addImages(files) : loadBundled());
    status(`on ${where} from iteration ${info.iteration}`);
    enableModelControls(true);
    store.fallbacks++;
  })().finally(() => (store.moving = null));
  return store.moving;
}

export function fallBackToCpu(reason: string): Promise<void> {
  return moveModel('cpu', reason, true);
}

/** Backend by measurement (when none is forced with ?backend= and a WebGPU adapter exists):
 *  time Langevin steps of the current preset on the wasm CPU backend and on WebGPU, each in a
 *  worker of its own, and move the model to the faster one. The badge names both figures. */
export async function chooseBackendByMeasurement() {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const model = store.model;
  if (store.url.backend !== 'auto' || !gpu || !model) return;
  const adapter = await within(gpu.requestAdapter(), LIMITS.adapter, 'requestAdapter()').catch(() => null);
  if (!adapter) return;
  const runs = [{ preset: currentChoice().preset, grid: model.scales[model.scales.length - 1], batch: model.config.batch_size }];
  stage('measuring the backends');
  const results = await measureBackends(['cpu', 'webgpu'], runs, 2, store.url.threads);
  store.measured = summary(results);
  $('backend').dataset.measured = JSON.stringify(results.map((m) => ({ backend: m.backend, ms: m.rows[0]?.langevin_step_ms ?? null })));
  const best = fastest(results);
  // A model the visitor moved to a remote device meanwhile stays there.
  if (best && store.model && store.model.backend !== 'remote' && best.backend !== store.model.backend) {
    await moveModel(best.backend, `measured faster (${store.measured})`, false);
  } else if (store.model) {
    showBackend(store.model);
    status(`measured: ${store.measured}`);
  }
}
