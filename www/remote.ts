// The Remote GPU: the model moves to device 0 of a `multigrid serve --transport iroh` server
// (Burn's remote backend, through an Iroh relay), and back. The server runs the tensor operations;
// the page keeps the weights of the last finished iteration and falls back to this browser's CPU
// backend if the server goes away (www/backend.ts). The token stays in this tab's memory.
import { measureBackends } from './benchmark';
import { moveModel } from './backend';
import { currentChoice } from './controls';
import { store } from './store';
import { $, message, showBackend } from './ui';

export function bindRemote() {
  $<HTMLFormElement>('remote').onsubmit = (event) => {
    event.preventDefault();
    void connect();
  };
  $('remote-disconnect').onclick = () => void moveModel(store.local, 'back in this browser', false);
  // A page that `multigrid serve --page` serves names that server: offer it, through the relay at
  // this page's own origin. The token is the visitor's to give.
  const served = document.querySelector<HTMLMetaElement>('meta[name="multigrid-serve"]')?.content;
  if (served) {
    $<HTMLInputElement>('remote-address').value = `${served}?relay=${location.origin}`;
    $<HTMLDetailsElement>('more').open = true;
    message(`This page is served by multigrid serve (${served}): give its token under Remote GPU to train on its device.`);
  }
}

async function connect() {
  const address = $<HTMLInputElement>('remote-address').value.trim();
  const token = $<HTMLInputElement>('remote-token').value.trim();
  if (!address || !token) {
    message('Give the address and the token that `multigrid serve --transport iroh` printed.', 'error');
    return;
  }
  if (store.model && store.model.backend !== 'remote') store.local = store.model.backend;
  store.remote = { address, token };
  store.remoteMeasured = '';
  await moveModel('remote', `connected to ${address}`, false);
  if (store.model?.backend !== 'remote') return;
  // Its speed, timed as the page times its own backends (in a worker of its own).
  const model = store.model;
  const runs = [{ preset: currentChoice().preset, grid: model.scales[model.scales.length - 1], batch: model.config.batch_size }];
  const [measured] = await measureBackends(['remote'], runs, 2, null, store.remote);
  store.remoteMeasured = measured.rows.length > 0 ? `${measured.rows[0].langevin_step_ms.toFixed(1)} ms per Langevin step` : `not measured: ${measured.error}`;
  if (store.model) showBackend(store.model);
}
