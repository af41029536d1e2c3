// The page's words: messages, the status line, the badge, the counters, and which controls are
// usable. DOM only; what to say comes from the callers.
import type { ModelInfo } from './protocol';
import { store } from './store';

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** A message above the grids: `info` for what happened, `warning` for what the visitor may want to
 *  act on while things go on, `error` for what failed. */
export function message(text: string, kind: 'info' | 'warning' | 'error' = 'info') {
  const box = $('messages');
  const item = document.createElement('p');
  item.className = kind;
  item.textContent = text;
  const close = document.createElement('button');
  close.className = 'close';
  close.setAttribute('aria-label', 'dismiss');
  close.textContent = '×';
  close.onclick = () => item.remove();
  item.append(close);
  box.prepend(item);
  while (box.children.length > 4) box.lastElementChild!.remove();
}

export function status(text: string) {
  clearInterval(store.stageTimer);
  $('status').textContent = text;
}

/** Say what the page is doing now, with the seconds it has taken so far (until the next status). */
export function stage(text: string) {
  status('');
  const started = performance.now();
  const show = () => ($('status').textContent = `${text}… ${((performance.now() - started) / 1000).toFixed(1)} s`);
  show();
  store.stageTimer = setInterval(show, 200);
}

/** Controls that need a running model (and its images). Until it is up they are disabled, and
 *  their tooltip says why instead of what they do. */
const MODEL_CONTROLS = ['train', 'step', 'sample', 'reset', 'files', 'use-bundled', 'clear-images', 'download', 'download-safetensors', 'upload', 'pretrained', 'remote-connect', 'remote-disconnect'];
export function enableModelControls(enabled: boolean, why = '') {
  for (const id of MODEL_CONTROLS) {
    const control = $<HTMLButtonElement | HTMLInputElement>(id);
    control.disabled = !enabled;
    // A file input is hidden inside its label, which is what a person sees and hovers.
    const shown = control instanceof HTMLInputElement ? (control.closest('label') ?? control) : control;
    if (enabled) {
      if (shown.dataset.title !== undefined) shown.title = shown.dataset.title;
      delete shown.dataset.title;
      shown.removeAttribute('aria-disabled');
    } else {
      shown.dataset.title ??= shown.title;
      shown.title = why;
      shown.setAttribute('aria-disabled', 'true');
    }
  }
}

/** The badge: where the model runs, and why not elsewhere. */
export function showBackend(info: ModelInfo) {
  const badge = $('backend');
  badge.dataset.backend = info.backend;
  const cpu = `CPU (wasm, ${info.threads} thread${info.threads === 1 ? '' : 's'})`;
  const threadsOff = info.threads === 1 && info.threadsReason ? ` · one thread: ${info.threadsReason}` : '';
  badge.textContent =
    info.backend === 'webgpu'
      ? `WebGPU · ${info.adapter ?? 'adapter'}`
      : info.backend === 'remote'
        ? `Remote · device 0 of ${info.remote}${store.remoteMeasured ? ` · ${store.remoteMeasured}` : ''}`
        : `${cpu}${info.fallbackReason ? ` · ${info.fallbackReason}` : ''}${threadsOff}`;
  if (store.measured) badge.textContent += ` · here: ${store.measured}`;
  $('remote-disconnect').hidden = info.backend !== 'remote';
  badge.dataset.threads = String(info.threads);
  badge.title = badge.textContent;
}

export function setIteration(n: number) {
  $('iteration').textContent = String(n);
  document.body.dataset.iteration = String(n);
}

export function setImageCount(n: number) {
  $('image-count').textContent = `${n} observed image${n === 1 ? '' : 's'}`;
  if (store.model) store.model.image_count = n;
}

/** A message from an error (an Error's message, or the thing itself). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
