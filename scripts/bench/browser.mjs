// The browser benchmarks, in headless Chromium against the built page (served from a sub-path by
// scripts/serve.mjs). `npm run bench -- browser` runs this; `bench cpu` and `bench features` read
// the JSON object that every mode prints on its last line.
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from '@playwright/test';

const USAGE = `usage: npm run bench -- browser [--dist dist] [--reps 3] [--webgpu-reps 1]
                              [--webgpu-only | --thread-scaling [--rounds 3] [--seconds 20] [--cpu-only]
                               | --versus OTHER_DIST [--rounds 3] [--seconds 20] [--cpu-only] | --gpu-calls
                               | --dispatch-cost [--seconds 20]]
       (or node scripts/bench/browser.mjs ..., from the repository root)

Default: per-op timings of the paper nets (grids 16 and 64, batch 16) on the wasm CPU backend,
on one thread and on every core the page uses (--reps), and on WebGPU when there is an adapter
(--webgpu-reps), as ratios to the native CLI (target/release/multigrid) on as many threads,
measured in the same run; the time from navigation to the first pretrained sample (best of 3 cold
loads); the gzipped size of both wasm modules, the weights and the page, and what a first visit
fetches with and without WebGPU.
Prints a summary, then the JSON object (read by \`bench cpu\`).

--webgpu-only: only the WebGPU timings and the wasm's size, as one JSON line (read by
\`bench features\`, which builds the page several ways, each into its own --dist).

--thread-scaling: the wasm CPU backend on one thread against every core (the page cross-origin
isolated), in --rounds alternating fresh browsers: training it/s of the \`small\` preset (Train
pressed for --seconds after a warm-up of 3 iterations) and one paper grid's ops (grid 64, batch
16); medians. Then once on WebGPU where the browser has an adapter (at least two iterations; one
repetition of the ops; not with --cpu-only). Prints a table, then the JSON object (read by
\`bench cpu\`, with --cpu-only).

--versus OTHER_DIST: two builds of the page side by side, --dist against OTHER_DIST, each served
on its own port: training it/s of \`small\` on every core and one paper grid's ops, in --rounds
alternating fresh browsers (medians), then once each on WebGPU where the browser has an adapter.
Prints a table, then the JSON object (read by \`reports -- build\`).

--dispatch-cost: the host's cost of one WebGPU dispatch in this browser: a worker times 5,000
dispatches of a kernel that does next to nothing, encoded as Burn's wgpu backend encodes them (a
new bind group per dispatch, one compute pass per command buffer, a submit every 32 dispatches),
and once more reusing one bind group. It then counts the calls as --gpu-calls does, and with the
dispatch counts of \`small\` (T = 4) gives the floor of a Langevin step and of a learning iteration
on WebGPU, set beside the CPU backend's measured time per iteration (T = 4) on one thread and on
every core. Prints both tables, then the JSON object (read by \`bench cpu\`).

--gpu-calls: on WebGPU, the calls the page's worker makes (counted under Burn: compute dispatches,
queue submissions, buffer maps = host round trips) for the tiny and small presets: per Langevin
step (from samples at two chain lengths), per sample of 8 images, per learning iteration (Step),
and per iteration while Train runs (4 iterations of tiny, 1 of small).
Prints a table, then the JSON object.`;

const options = {
  dist: { type: 'string', default: 'dist' },
  reps: { type: 'string', default: '3' },
  'webgpu-reps': { type: 'string', default: '1' },
  'webgpu-only': { type: 'boolean', default: false },
  'thread-scaling': { type: 'boolean', default: false },
  'gpu-calls': { type: 'boolean', default: false },
  'dispatch-cost': { type: 'boolean', default: false },
  'cpu-only': { type: 'boolean', default: false },
  versus: { type: 'string' },
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '20' },
  help: { type: 'boolean', short: 'h', default: false },
};
let values;
try {
  ({ values } = parseArgs({ options }));
} catch (e) {
  console.error(`${e.message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const dist = values.dist;
const reps = Number(values.reps);
const port = 4191;
const base = '/multigrid-ebm/';
const url = `http://127.0.0.1:${port}${base}`;
const urlVersus = `http://127.0.0.1:${port + 1}${base}`;
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const webgpuArgs = [...args, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
const ops = ['forward_ms', 'langevin_step_ms', 'update_ms'];

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `work(page)` in a fresh browser launched with `flags`; a panic in the page's worker is named in the error. */
async function withPage(flags, work) {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: flags });
  const panics = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      // The crate's path in this machine's cargo registry is left out of what the report holds.
      const where = m.text().replace(/\S*\.cargo\/registry\/src\/[^/]+\//g, '');
      if (where.startsWith('panicked at')) panics.push(where.split('\n').slice(0, 2).join(' '));
    });
    return await work(page);
  } catch (e) {
    // A Rust panic in the worker reaches Playwright as a bare `unreachable`; name the panic.
    throw new Error(`${e.message.split('\n')[0]}${panics.length ? ` (the worker ${panics[0]})` : ''}`);
  } finally {
    await browser.close();
  }
}

async function timeOps(page, backend, repeats) {
  const rows = [];
  for (const grid of [16, 64]) {
    rows.push(await page.evaluate(([g, r, b]) => window.multigridBench('paper', g, 16, r, b), [grid, repeats, backend]));
  }
  return rows;
}

async function timeWebgpu() {
  try {
    return await withPage(webgpuArgs, async (page) => {
      await page.goto(`${url}?preset=tiny&backend=webgpu&debug=1`);
      await page.waitForSelector('body[data-ready=true]');
      const adapter = await page.locator('#backend').textContent();
      if (!adapter.startsWith('WebGPU')) throw new Error(`no adapter (${adapter})`);
      return { webgpu: { adapter, rows: await timeOps(page, 'webgpu', Number(values['webgpu-reps'])) }, webgpuNote: '' };
    });
  } catch (e) {
    return { webgpu: null, webgpuNote: `WebGPU not measured: ${e.message}` };
  }
}

/** The page's two wasm modules: the threaded build (it exports wasm-bindgen's thread destructor)
 *  and the single-threaded one, which alone has WebGPU. */
function wasmModules() {
  const wasm = files(join(dist, 'assets')).filter((f) => f.endsWith('.wasm'));
  const threaded = wasm.filter((f) => readFileSync(f).includes('__wbindgen_thread_destroy'));
  const single = wasm.filter((f) => !threaded.includes(f));
  if (threaded.length !== 1 || single.length !== 1) throw new Error(`expected two wasm modules in ${dist}/assets, one threaded: found ${wasm.join(', ')}`);
  return { threaded: threaded[0], single: single[0] };
}

async function webgpuOnly() {
  const wasm = wasmModules().single;
  console.log(JSON.stringify({ ...(await timeWebgpu()), sizes: { wasm: gz(wasm), wasmRaw: statSync(wasm).size } }));
}

/** The default mode: wasm CPU and WebGPU against native, page load to the first sample, sizes. */
async function opsAndLoad() {
  const modules = wasmModules();
  // Page load to the first pretrained sample (CPU backend, a cold page each time: best of 3).
  const firstSample = [];
  for (let i = 0; i < 3; i++) {
    firstSample.push(
      await withPage(args, async (page) => {
        await page.goto(url);
        await page.waitForSelector('body[data-first-sample]', { timeout: 120_000 });
        return Number(await page.locator('body').getAttribute('data-first-sample'));
      }),
    );
  }
  // The wasm CPU backend on one thread (the single-threaded build) and on every core the page
  // uses (the threaded build), each set beside native on as many threads.
  const timeCpu = (one) =>
    withPage(args, async (page) => {
      await page.goto(`${url}?preset=tiny&debug=1&backend=cpu${one ? '&threads=1' : ''}`);
      await page.waitForSelector('body[data-ready=true]');
      return { threads: Number(await page.locator('#backend').getAttribute('data-threads')), rows: await timeOps(page, 'cpu', reps) };
    });
  const cpuOne = await timeCpu(true);
  const cpuAll = await timeCpu(false);
  const { webgpu, webgpuNote } = await timeWebgpu();
  const native = (threads) =>
    JSON.parse(
      execFileSync('target/release/multigrid', ['bench', '--preset', 'paper', '--grids', '16,64', '--batch', '16', '--reps', String(reps), '--json'], {
        env: { ...process.env, RAYON_NUM_THREADS: String(threads) },
      }).toString(),
    ).rows;
  const native1 = native(1);
  const cores = Number(execFileSync('nproc').toString());
  const nativeAll = native(cores);
  const nativeAsPage = cpuAll.threads === cores ? nativeAll : native(cpuAll.threads);

  const weights = files(join(dist, 'weights')).filter((f) => f.endsWith('.bpk'));
  const page = files(dist).filter((f) => !f.includes('/held-out/') && !f.endsWith('sw.js'));
  const sizes = {
    threaded: gz(modules.threaded),
    threadedRaw: statSync(modules.threaded).size,
    single: gz(modules.single),
    singleRaw: statSync(modules.single).size,
    weights: weights.reduce((s, f) => s + gz(f), 0),
    page: page.reduce((s, f) => s + gz(f), 0),
  };
  // What a first visit fetches: the threaded module and the weights, and where the browser offers
  // WebGPU the single-threaded module too (the page times both backends, each in its own worker).
  const firstVisit = { withoutWebgpu: sizes.threaded + sizes.weights, withWebgpu: sizes.threaded + sizes.single + sizes.weights };
  const lines = ['| backend | grid | forward ms | Langevin step ms | update ms | ratio to native, 1 thread | ratio to native, as many threads |', '|---|---|---|---|---|---|---|'];
  const worstRatio = { one: 0, all: 0 };
  const ratios = (r, i, native) => ops.map((op) => r[op] / native[i][op]);
  const fmt = (x) => x.map((v) => v.toFixed(2)).join(' / ');
  const row = (name, r, one, all) =>
    lines.push(`| ${name} | ${r.grid} | ${r.forward_ms.toFixed(1)} | ${r.langevin_step_ms.toFixed(1)} | ${r.update_ms.toFixed(1)} | ${one} | ${all} |`);
  cpuOne.rows.forEach((r, i) => {
    const one = ratios(r, i, native1);
    worstRatio.one = Math.max(worstRatio.one, ...one);
    row('wasm CPU, 1 thread', r, fmt(one), '–');
  });
  cpuAll.rows.forEach((r, i) => {
    const all = ratios(r, i, nativeAsPage);
    worstRatio.all = Math.max(worstRatio.all, ...all);
    row(`wasm CPU, ${cpuAll.threads} threads`, r, '–', fmt(all));
  });
  webgpu?.rows.forEach((r, i) => row(`WebGPU (${webgpu.adapter.replace('WebGPU · ', '')})`, r, fmt(ratios(r, i, native1)), fmt(ratios(r, i, nativeAll))));
  native1.forEach((r) => row('native, 1 thread', r, '1', '–'));
  nativeAll.forEach((r) => row('native, all threads', r, '–', '1'));
  const best = Math.min(...firstSample);
  const summary = [
    `Paper nets, batch 16, headless Chromium ${execFileSync(chromiumPath, ['--version']).toString().trim().split('\n').pop()}; ratios are forward / Langevin step / update. ${webgpuNote}`,
    '',
    ...lines,
    '',
    `Page load to first pretrained sample (CPU backend, 8 images of the small preset): ${firstSample.map((s) => s.toFixed(2)).join(', ')} s (best ${best.toFixed(2)} s).`,
    `Download, gzipped: the threaded module ${mb(sizes.threaded)} (raw ${mb(sizes.threadedRaw)}), the single-threaded module (WebGPU, the one-thread CPU fallback and the Remote GPU client) ${mb(sizes.single)} (raw ${mb(sizes.singleRaw)}), pretrained weights ${mb(sizes.weights)}, the whole page with the bundled training images ${mb(sizes.page)}. A first visit fetches the threaded module and the weights (${mb(firstVisit.withoutWebgpu)}), and where the browser offers WebGPU the other module too, as the page times both backends (${mb(firstVisit.withWebgpu)}).`,
  ].join('\n');
  const targets = [
    '| target | measured | met |',
    '|---|---|---|',
    `| wasm CPU within 2× native | worst ratio ${worstRatio.one.toFixed(2)} on 1 thread, ${worstRatio.all.toFixed(2)} on ${cpuAll.threads} threads (each against native on as many) | ${worstRatio.one <= 2 && worstRatio.all <= 2 ? 'yes' : 'no'} |`,
    `| page load to first sample < 3 s | ${best.toFixed(2)} s | ${best < 3 ? 'yes' : 'no'} |`,
    `| first visit: wasm + weights ≤ 8 MB gzipped | ${mb(firstVisit.withoutWebgpu)} without WebGPU, ${mb(firstVisit.withWebgpu)} with it | ${firstVisit.withWebgpu <= 8e6 ? 'yes' : 'no'} |`,
  ];
  console.log(summary);
  console.log(JSON.stringify({ summary, targets, cpu: cpuOne.rows, cpuAll, webgpu, native1, nativeAll, firstSample, sizes, firstVisit }));
}

/** One thread-scaling configuration in a fresh browser: training it/s of `small`, then one paper
 *  grid's ops; `threads` 1 or null (every core) on the CPU backend, or 'webgpu'. */
function trainAndTime(threads, at = url, steps = null) {
  const webgpu = threads === 'webgpu';
  return withPage(webgpu ? webgpuArgs : args, async (page) => {
    if (webgpu) page.setDefaultTimeout(600_000); // a software adapter starts slowly
    const query = `?preset=small&seed=1&debug=1&backend=${webgpu ? 'webgpu' : 'cpu'}${threads === 1 ? '&threads=1' : ''}${steps ? `&steps=${steps}` : ''}`;
    await page.goto(at + query);
    await page.waitForSelector('body[data-ready=true]');
    await page.waitForFunction(() => /^[1-9]/.test(document.getElementById('image-count')?.textContent ?? ''));
    const badge = await page.locator('#backend').textContent();
    const it = () => page.evaluate(() => Number(document.body.dataset.iteration));
    const start = await it();
    await page.click('#train');
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) >= n, start + (webgpu ? 1 : 3), { timeout: 300_000 });
    const [i0, t0] = [await it(), Date.now()];
    // At least the given seconds and (a slow software adapter) two whole iterations.
    // Both ends of the interval at an iteration's end (so the count is exact): the end is the
    // first iteration to finish after the given seconds.
    await page.waitForTimeout(Number(values.seconds) * 1000);
    const last = Math.max(await it() + 1, i0 + 2);
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) >= n, last, { timeout: 600_000 });
    const [i1, t1] = [await it(), Date.now()];
    await page.click('#train');
    await page.waitForSelector('body[data-playing=false]');
    await page.waitForTimeout(1500); // the iteration in flight, and the save on pause
    const ops = await page.evaluate(([b, r]) => window.multigridBench('paper', 64, 16, r, b), [webgpu ? 'webgpu' : 'cpu', webgpu ? 1 : 3]);
    return { badge, itersPerSecond: (i1 - i0) / ((t1 - t0) / 1000), ops };
  });
}

/** Medians of several trainAndTime runs of one configuration. */
const summary = (rs) => ({
  badge: rs[0].badge,
  itersPerSecond: median(rs.map((r) => r.itersPerSecond)),
  forwardMs: median(rs.map((r) => r.ops.forward_ms)),
  langevinStepMs: median(rs.map((r) => r.ops.langevin_step_ms)),
  updateMs: median(rs.map((r) => r.ops.update_ms)),
  spread: [Math.min(...rs.map((r) => r.itersPerSecond)), Math.max(...rs.map((r) => r.itersPerSecond))],
});

/** WebGPU once (a software adapter is slow), or null with the reason on stderr. */
async function webgpuOnce(at = url) {
  if (values['cpu-only']) return null;
  try {
    const s = summary([await trainAndTime('webgpu', at)]);
    return s.badge.startsWith('WebGPU') ? s : null;
  } catch (e) {
    console.error(`WebGPU not timed: ${e.message}`);
    return null;
  }
}

/** What the CPU badge says of the threads ("2 threads"). */
const threadsOf = (badge) => badge.replace(/^CPU \(wasm, |\).*$/g, '');

const row = (name, s) =>
  `| ${name} | ${s.itersPerSecond.toFixed(2)} (${s.spread.map((x) => x.toFixed(2)).join('–')}) | ${s.forwardMs.toFixed(1)} | ${s.langevinStepMs.toFixed(1)} | ${s.updateMs.toFixed(1)} |`;
const header = ['| build, backend | small it/s (spread) | paper g64 b16 forward ms | Langevin step ms | update ms |', '|---|---|---|---|---|'];

async function threadScaling() {
  const runs = { one: [], all: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    runs.one.push(await trainAndTime(1));
    runs.all.push(await trainAndTime(null));
    console.error(`round ${round + 1}: ${runs.one.at(-1).itersPerSecond.toFixed(2)} vs ${runs.all.at(-1).itersPerSecond.toFixed(2)} it/s`);
  }
  const [one, all] = [summary(runs.one), summary(runs.all)];
  const ratio = all.itersPerSecond / one.itersPerSecond;
  // WebGPU once, where the browser has an adapter (software here: slow, so one round).
  const webgpu = await webgpuOnce();
  const rows = [['wasm, 1 thread', one], [`wasm, ${threadsOf(all.badge)}`, all]];
  if (webgpu) rows.push([webgpu.badge.replace(/ ·.*$/, ''), webgpu]);
  const table = [header.join('\n').replace('build, backend', 'backend'), ...rows.map(([name, s]) => row(name, s))];
  if (!webgpu) table.push('', values['cpu-only'] ? 'WebGPU: not timed (--cpu-only)' : 'WebGPU: SKIPPED (no adapter in this browser)');
  console.log(table.join('\n'));
  console.log(`every core / one thread: ${ratio.toFixed(2)}× it/s, ${(one.langevinStepMs / all.langevinStepMs).toFixed(2)}× per Langevin step`);
  console.log(JSON.stringify({ one, all, webgpu, ratio, rounds: Number(values.rounds), seconds: Number(values.seconds), table }));
}

/** Two builds side by side: --dist (a) against --versus (b), every core, then WebGPU once each. */
async function versus() {
  const runs = { a: [], b: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    runs.a.push(await trainAndTime(null, url));
    runs.b.push(await trainAndTime(null, urlVersus));
    console.error(`round ${round + 1}: ${runs.a.at(-1).itersPerSecond.toFixed(2)} vs ${runs.b.at(-1).itersPerSecond.toFixed(2)} it/s`);
  }
  const [a, b] = [summary(runs.a), summary(runs.b)];
  const [webgpuA, webgpuB] = [await webgpuOnce(url), await webgpuOnce(urlVersus)];
  console.log(header.join('\n'));
  console.log(row(`${dist}, ${a.badge.replace(/ ·.*$/, '')}`, a));
  console.log(row(`${values.versus}, ${b.badge.replace(/ ·.*$/, '')}`, b));
  if (webgpuA) console.log(row(`${dist}, ${webgpuA.badge.replace(/ ·.*$/, '')}`, webgpuA));
  if (webgpuB) console.log(row(`${values.versus}, ${webgpuB.badge.replace(/ ·.*$/, '')}`, webgpuB));
  if (!webgpuA || !webgpuB) console.log(values['cpu-only'] ? 'WebGPU: not timed (--cpu-only)' : 'WebGPU: SKIPPED (no adapter in this browser)');
  console.log(JSON.stringify({ a, b, webgpuA, webgpuB, ratio: b.itersPerSecond / a.itersPerSecond, rounds: Number(values.rounds), seconds: Number(values.seconds) }));
}

/** WebGPU calls of one preset: samples at two chain lengths (per-step dispatches from the
 *  difference), then one learning iteration. */
function gpuCallsOf(preset, [t1, t2], training) {
  return withPage(webgpuArgs, async (page) => {
    await page.addInitScript(() => localStorage.setItem('multigrid-ebm.tour', 'done'));
    await page.goto(`${url}?preset=${preset}&seed=1&backend=webgpu&steps=${t1}&debug=1`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 300_000 });
    const adapter = await page.locator('#backend').textContent();
    if (!adapter.startsWith('WebGPU')) throw new Error(`no adapter (${adapter})`);
    await page.waitForFunction(() => /^[1-9]/.test(document.getElementById('image-count')?.textContent ?? ''), null, { timeout: 300_000 });
    const grids = JSON.parse(await page.evaluate(() => document.querySelectorAll('#grids .grid-block').length)) - 1;
    const calls = (reset) => page.evaluate((r) => window.multigridGpuCalls(r), reset);
    const sampled = () => page.evaluate(() => Number(document.body.dataset.sampled ?? 0));
    const sampleAt = async (steps) => {
      await page.fill('#steps', String(steps));
      await page.locator('#steps').blur();
      await page.waitForFunction((t) => new URL(location.href).searchParams.get('steps') === String(t), steps, { timeout: 300_000 });
      await page.waitForTimeout(300);
      await calls(true);
      const before = await sampled();
      await page.click('#sample');
      await page.waitForFunction((n) => Number(document.body.dataset.sampled ?? 0) > n, before, { timeout: 300_000 });
      return calls(false);
    };
    const [a, b] = [await sampleAt(t1), await sampleAt(t2)];
    await calls(true);
    const iteration = () => page.evaluate(() => Number(document.body.dataset.iteration));
    const start = await iteration();
    await page.click('#step');
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) > n, start, { timeout: 300_000 });
    const learn = await calls(false);
    // While training runs: iterations between the first one (after the inspector's reads of the
    // Step above) and a later one, counted over whole iterations.
    await page.click('#train');
    const first = (await iteration()) + 1;
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) >= n, first, { timeout: 600_000 });
    await calls(true);
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) >= n, first + training, { timeout: 600_000 });
    const trained = await calls(false);
    await page.click('#train');
    const perIteration = Object.fromEntries(Object.entries(trained).map(([k, v]) => [k, v / training]));
    const perStep = (b.dispatches - a.dispatches) / ((t2 - t1) * grids);
    return { preset, adapter, grids, steps: [t1, t2], sample: [a, b], learn, training: perIteration, dispatchesPerLangevinStep: perStep };
  });
}

/** The WebGPU calls of tiny and small (gpuCallsOf), and their table's lines. */
async function gpuCallRows() {
  const rows = [await gpuCallsOf('tiny', [6, 24], 4), await gpuCallsOf('small', [4, 8], 1)];
  const table = [
    `WebGPU: ${rows[0].adapter.replace('WebGPU · ', '')}`,
    '',
    '| preset | grids | dispatches per Langevin step | sample of 8 (T1 / T2): dispatches | submits | maps | waits | learning iteration (T1): dispatches | submits | maps | waits | per iteration while training: waits |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const [a, b] = r.sample;
      return `| ${r.preset} | ${r.grids} | ${r.dispatchesPerLangevinStep.toFixed(1)} | ${a.dispatches} / ${b.dispatches} (T = ${r.steps.join(' / ')}) | ${a.submits} / ${b.submits} | ${a.maps} / ${b.maps} | ${a.waits} / ${b.waits} | ${r.learn.dispatches} | ${r.learn.submits} | ${r.learn.maps} | ${r.learn.waits} | ${r.training.waits.toFixed(1)} |`;
    }),
  ];
  return { rows, table };
}

async function gpuCalls() {
  const { rows, table } = await gpuCallRows();
  console.log(table.join('\n'));
  console.log(JSON.stringify({ rows, table }));
}

/** The worker that times dispatches: `n` dispatches of a one-invocation kernel, after a warm-up,
 *  bind groups made per dispatch (as cubecl-wgpu does) or reused; a submit every `perSubmit`. */
const DISPATCH_WORKER = `
onmessage = async ({ data: { n, perSubmit } }) => {
  try {
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter.requestDevice();
    const code = '@group(0) @binding(0) var<storage, read_write> b: array<f32>; @compute @workgroup_size(1) fn main() { b[0] = b[0] + 1.0; }';
    const layout = device.createBindGroupLayout({ entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } }] });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    const buffer = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const group = () => device.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer } }] });
    const shared = group();
    const run = async (count, reuse) => {
      const t0 = performance.now();
      let encoder = device.createCommandEncoder();
      let pass = encoder.beginComputePass();
      for (let i = 1; i <= count; i++) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, reuse ? shared : group());
        pass.dispatchWorkgroups(1);
        if (i % perSubmit === 0 || i === count) {
          pass.end();
          device.queue.submit([encoder.finish()]);
          encoder = device.createCommandEncoder();
          pass = encoder.beginComputePass();
        }
      }
      const host = performance.now() - t0;
      await device.queue.onSubmittedWorkDone();
      return { hostMs: host, doneMs: performance.now() - t0 };
    };
    await run(500, false);
    const perBindGroup = await run(n, false);
    const reused = await run(n, true);
    postMessage({ adapter: adapter.info ? [adapter.info.vendor, adapter.info.architecture, adapter.info.description].filter(Boolean).join(' ') : '', perBindGroup, reused });
  } catch (e) {
    postMessage({ error: String(e) });
  }
};`;

async function dispatchCost() {
  const n = 5000;
  const perSubmit = 32; // cubecl-wgpu's default tasks_max (CUBECL_WGPU_MAX_TASKS)
  const timed = await withPage(webgpuArgs, async (page) => {
    // A document of the page's origin that does not start the page itself.
    await page.goto(`${url}data/textures/packs.json`);
    return page.evaluate(([source, n, perSubmit]) => new Promise((resolve, reject) => {
      const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data));
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage({ n, perSubmit });
    }), [DISPATCH_WORKER, n, perSubmit]);
  });
  const us = (t) => (t.hostMs * 1000) / n;
  console.error(`µs per dispatch (host): ${us(timed.perBindGroup).toFixed(1)} as Burn encodes, ${us(timed.reused).toFixed(1)} with one bind group; ${timed.adapter}`);
  // The calls of tiny and small as --gpu-calls counts them, so that one run gives both tables.
  const calls = await gpuCallRows();
  const small = calls.rows.find((r) => r.preset === 'small');
  const cpuOne = await trainAndTime(1, url, 4);
  const cpuAll = await trainAndTime(null, url, 4);
  const perDispatch = us(timed.perBindGroup);
  const floor = { langevinStepMs: (small.dispatchesPerLangevinStep * small.grids * perDispatch) / 1000, iterationMs: (small.learn.dispatches * perDispatch) / 1000 };
  const table = [
    `WebGPU: ${small.adapter.replace('WebGPU · ', '')}; ${n.toLocaleString('en')} dispatches of a one-invocation kernel, a submit every ${perSubmit}`,
    '',
    '| dispatches encoded | µs per dispatch, host (encode and submit) | µs per dispatch, until the GPU is done |',
    '|---|---|---|',
    `| as Burn does (a bind group per dispatch) | ${us(timed.perBindGroup).toFixed(1)} | ${((timed.perBindGroup.doneMs * 1000) / n).toFixed(1)} |`,
    `| one bind group reused | ${us(timed.reused).toFixed(1)} | ${((timed.reused.doneMs * 1000) / n).toFixed(1)} |`,
    '',
    `| \`small\`, T = 4 | dispatches | WebGPU floor (dispatches × µs), ms | CPU backend, 1 thread, ms | CPU backend, ${threadsOf(cpuAll.badge)}, ms |`,
    '|---|---|---|---|---|',
    `| one Langevin step (all ${small.grids} grids) | ${(small.dispatchesPerLangevinStep * small.grids).toFixed(0)} | ${floor.langevinStepMs.toFixed(1)} | – | – |`,
    `| one learning iteration | ${small.learn.dispatches} | ${floor.iterationMs.toFixed(0)} | ${(1000 / cpuOne.itersPerSecond).toFixed(0)} | ${(1000 / cpuAll.itersPerSecond).toFixed(0)} |`,
  ];
  console.log([...calls.table, '', ...table].join('\n'));
  console.log(JSON.stringify({ n, perSubmit, timed, perDispatchUs: perDispatch, calls, floor, cpu: { one: cpuOne, all: cpuAll }, table }));
}

const serve = (dir, at) => spawn('node', ['scripts/serve.mjs', '--dir', dir, '--base', base, '--port', String(at)], { stdio: 'ignore' });
const servers = [serve(dist, port), ...(values.versus ? [serve(values.versus, port + 1)] : [])];
await new Promise((r) => setTimeout(r, 800));
try {
  const mode = values.versus ? versus : values['webgpu-only'] ? webgpuOnly : values['thread-scaling'] ? threadScaling
    : values['gpu-calls'] ? gpuCalls : values['dispatch-cost'] ? dispatchCost : opsAndLoad;
  await mode();
} finally {
  servers.forEach((s) => s.kill());
}
