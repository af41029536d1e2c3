// The page's views, made once: every grid's canvases, the learning curves, the recovery panel,
// the inspector, the benchmark panel and the tour; and `showModel`, which lays them out for a model.
import { BenchmarkPanel } from './benchmark';
import { Charts } from './charts';
import { currentChoice } from './controls';
import { GridView } from './grids';
import { InpaintPanel } from './inpaint';
import { Inspector } from './inspect';
import type { ModelInfo } from './protocol';
import { run } from './backend';
import { store } from './store';
import { Tour } from './tour';
import { setPlaying } from './training';
import { $, setImageCount, setIteration, showBackend } from './ui';

/** Images drawn per grid. */
export const SHOWN = 8;

const grids = new GridView($('grids'), SHOWN);
const charts = new Charts({ loss: $('chart-loss'), recon: $('chart-recon'), gradient: $('chart-gradient'), speed: $('chart-speed') });
const inpaint = new InpaintPanel((request) => run(() => store.client.call(request)));
const inspector = new Inspector(
  () => store.client,
  () => store.model,
  () => store.playing,
);
inspector.attach(grids, { nearest: true });
inspector.attach(inpaint.view, { nearest: false });
inpaint.onRecovered = (r) => inspector.inpainted(inpaint.view, r);
const benchmark = new BenchmarkPanel(
  $('benchmark'),
  () => ({
    preset: currentChoice().preset,
    finest: store.model?.scales.at(-1) ?? 64,
    batch: store.model?.config.batch_size ?? 8,
    threads: store.url.threads,
    backends: 'gpu' in navigator ? ['cpu', 'webgpu'] : ['cpu'],
  }),
  async () => setPlaying(false),
);
const tour = new Tour($('tour-start'), () => store.model?.scales ?? [1, 4, 16, 64]);

export const views = { grids, charts, inpaint, inspector, benchmark, tour };

/** Lay the page out for a model the worker describes. */
export function showModel(info: ModelInfo) {
  store.model = info;
  showBackend(info);
  grids.layout(info.scales);
  if (charts.points === 0 || info.iteration === 0) charts.reset(info.scales);
  inpaint.layout(info.scales);
  tour.refresh();
  setIteration(info.iteration);
  setImageCount(info.image_count);
  document.body.dataset.ready = 'true';
}
