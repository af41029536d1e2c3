// Learning curves with uPlot: per-grid loss (asinh scale: it is signed and spans many decades),
// per-grid reconstruction error, the Langevin gradient's norm at the synthesized images (log
// scale; a run going wrong shows here before the samples do), and iterations per second.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { GridStats } from './protocol';

const COLOURS = ['#e4572e', '#29335c', '#17bebb', '#a8c256', '#f3a712', '#8e44ad'];
const KEEP = 5000;
// Tick labels short enough for the axis (losses reach 10⁸): 1.2M, −35K, 0.5.
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 3 });
const ticks = (_: uPlot, values: number[]) => values.map((v) => (v == null ? '' : compact.format(v)));

interface Chart {
  plot: uPlot;
  data: number[][];
  root: HTMLElement;
}

function make(root: HTMLElement, series: string[], scale: 'asinh' | 'log' | 'linear'): Chart {
  const data: number[][] = [[], ...series.map(() => [])];
  const opts: uPlot.Options = {
    width: Math.max(240, root.clientWidth),
    height: 180,
    legend: { show: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: false }, y: scale === 'asinh' ? { distr: 4, asinh: 1 } : scale === 'log' ? { distr: 3 } : {} },
    axes: [{ label: 'iteration' }, { size: 56, values: ticks }],
    series: [{ label: 'iteration' }, ...series.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true }))],
  };
  root.replaceChildren();
  return { plot: new uPlot(opts, data as uPlot.AlignedData, root), data, root };
}

export class Charts {
  private loss?: Chart;
  private recon?: Chart;
  private gradient?: Chart;
  private speed?: Chart;
  private grids: number[] = [];
  points = 0;

  constructor(private roots: { loss: HTMLElement; recon: HTMLElement; gradient: HTMLElement; speed: HTMLElement }) {
    new ResizeObserver(() => this.resize()).observe(roots.loss);
  }

  /** Start empty curves for grids of these sizes (the 1×1 grid has no net). */
  reset(scales: number[]) {
    this.grids = scales.slice(1);
    const names = this.grids.map((s) => `grid ${s}`);
    this.loss = make(this.roots.loss, names, 'asinh');
    this.recon = make(this.roots.recon, names, 'linear');
    this.gradient = make(this.roots.gradient, names, 'log');
    this.speed = make(this.roots.speed, ['iterations/s'], 'linear');
    this.points = 0;
  }

  push(iteration: number, grids: GridStats[], itersPerSecond: number) {
    if (!this.loss || !this.recon || !this.gradient || !this.speed) return;
    const add = (chart: Chart, values: (number | null)[]) => {
      chart.data[0].push(iteration);
      values.forEach((v, i) => chart.data[i + 1].push(v ?? (null as unknown as number)));
      if (chart.data[0].length > KEEP) chart.data.forEach((d) => d.shift());
      chart.plot.setData(chart.data as uPlot.AlignedData);
    };
    add(this.loss, grids.map((g) => g.loss));
    add(this.recon, grids.map((g) => g.recon_error));
    add(this.gradient, grids.map((g) => g.langevin_gradient));
    add(this.speed, [itersPerSecond]);
    this.points++;
  }

  private resize() {
    for (const c of [this.loss, this.recon, this.gradient, this.speed]) {
      if (c) c.plot.setSize({ width: Math.max(240, c.root.clientWidth), height: 180 });
    }
  }
}
