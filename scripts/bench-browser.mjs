// Browser benchmark, in headless Chromium against the built page (dist/): per-op timings of the
// paper nets (grids 16 and 64, batch 16) on the wasm CPU backend and on WebGPU when there is an
// adapter, as ratios to the native CLI measured in the same run; the time from navigation to the
// first pretrained sample; and the gzipped size of the wasm, the weights and the page's download.
// Prints a human summary and, on its last line, one JSON object (read by scripts/bench.py).
// With --webgpu-only, only the WebGPU timings and the wasm's size, as one JSON line (read by
// scripts/bench-burn-features.py, which builds the page several ways into their own --dist).
//   node scripts/bench-browser.mjs [--reps 3] [--webgpu-reps 1] [--dist dist] [--webgpu-only]
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from '@playwright/test';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'webgpu-reps': { type: 'string', default: '1' },
    dist: { type: 'string', default: 'dist' },
    'webgpu-only': { type: 'boolean', default: false },
  },
});
const dist = values.dist;
const reps = Number(values.reps);
const port = 4191;
const base = '/multigrid-ebm/';
const url = `http://127.0.0.1:${port}${base}`;
const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const webgpuArgs = [...args, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

function gz(file) {
  return gzipSync(readFileSync(file), { level: 9 }).length;
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

async function withPage(flags, work) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: flags });
  const panics = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.text().startsWith('panicked at')) panics.push(m.text().split('\n').slice(0, 2).join(' '));
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
      await page.goto(`${url}?preset=tiny&backend=webgpu`);
      await page.waitForSelector('body[data-ready=true]');
      const adapter = await page.locator('#backend').textContent();
      if (!adapter.startsWith('WebGPU')) throw new Error(`no adapter (${adapter})`);
      return { webgpu: { adapter, rows: await timeOps(page, 'webgpu', Number(values['webgpu-reps'])) }, webgpuNote: '' };
    });
  } catch (e) {
    return { webgpu: null, webgpuNote: `WebGPU not measured: ${e.message}` };
  }
}

const server = spawn('node', ['scripts/serve.mjs', '--dir', dist, '--base', base, '--port', String(port)], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 800));
try {
  const wasm = files(join(dist, 'assets')).find((f) => f.endsWith('.wasm'));
  if (values['webgpu-only']) {
    console.log(JSON.stringify({ ...(await timeWebgpu()), sizes: { wasm: gz(wasm), wasmRaw: statSync(wasm).size } }));
    server.kill();
    process.exit(0);
  }
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
  const cpu = await withPage(args, async (page) => {
    await page.goto(`${url}?preset=tiny`);
    await page.waitForSelector('body[data-ready=true]');
    return timeOps(page, 'cpu', reps);
  });
  const { webgpu, webgpuNote } = await timeWebgpu();
  const native = (threads) =>
    JSON.parse(
      execFileSync('target/release/multigrid', ['bench', '--preset', 'paper', '--grids', '16,64', '--batch', '16', '--reps', String(reps), '--json'], {
        env: { ...process.env, RAYON_NUM_THREADS: String(threads) },
      }).toString(),
    ).rows;
  const native1 = native(1);
  const nativeAll = native(Number(execFileSync('nproc').toString()));

  const weights = files(join(dist, 'weights')).filter((f) => f.endsWith('.bpk'));
  const page = files(dist).filter((f) => !f.includes('/held-out/') && !f.endsWith('sw.js'));
  const sizes = {
    wasm: gz(wasm),
    wasmRaw: statSync(wasm).size,
    weights: weights.reduce((s, f) => s + gz(f), 0),
    page: page.reduce((s, f) => s + gz(f), 0),
  };
  const ops = ['forward_ms', 'langevin_step_ms', 'update_ms'];
  const lines = ['| backend | grid | forward ms | Langevin step ms | update ms | ratio to native, 1 thread | ratio to native, all threads |', '|---|---|---|---|---|---|---|'];
  const worstRatio = { one: 0, all: 0 };
  for (const [name, rows] of [['wasm CPU', cpu], ...(webgpu ? [[`WebGPU (${webgpu.adapter.replace('WebGPU · ', '')})`, webgpu.rows]] : [])]) {
    rows.forEach((r, i) => {
      const one = ops.map((op) => r[op] / native1[i][op]);
      const all = ops.map((op) => r[op] / nativeAll[i][op]);
      if (name === 'wasm CPU') {
        worstRatio.one = Math.max(worstRatio.one, ...one);
        worstRatio.all = Math.max(worstRatio.all, ...all);
      }
      lines.push(`| ${name} | ${r.grid} | ${r.forward_ms.toFixed(1)} | ${r.langevin_step_ms.toFixed(1)} | ${r.update_ms.toFixed(1)} | ${one.map((x) => x.toFixed(2)).join(' / ')} | ${all.map((x) => x.toFixed(2)).join(' / ')} |`);
    });
  }
  native1.forEach((r) => lines.push(`| native, 1 thread | ${r.grid} | ${r.forward_ms.toFixed(1)} | ${r.langevin_step_ms.toFixed(1)} | ${r.update_ms.toFixed(1)} | 1 | – |`));
  nativeAll.forEach((r) => lines.push(`| native, all threads | ${r.grid} | ${r.forward_ms.toFixed(1)} | ${r.langevin_step_ms.toFixed(1)} | ${r.update_ms.toFixed(1)} | – | 1 |`));
  const best = Math.min(...firstSample);
  const summary = [
    `Paper nets, batch 16, headless Chromium ${execFileSync('/usr/bin/chromium', ['--version']).toString().trim().split('\n').pop()}; ratios are forward / Langevin step / update. ${webgpuNote}`,
    '',
    ...lines,
    '',
    `Page load to first pretrained sample (CPU backend, 8 images of the small preset): ${firstSample.map((s) => s.toFixed(2)).join(', ')} s (best ${best.toFixed(2)} s).`,
    `Download, gzipped: wasm ${mb(sizes.wasm)} (raw ${mb(sizes.wasmRaw)}), pretrained weights ${mb(sizes.weights)}, the whole page with the bundled training images ${mb(sizes.page)}.`,
  ].join('\n');
  const targets = [
    '| target | measured | met |',
    '|---|---|---|',
    `| wasm CPU within 2× native | worst ratio ${worstRatio.one.toFixed(2)} vs native on 1 thread (wasm has one thread), ${worstRatio.all.toFixed(2)} vs all threads | ${worstRatio.one <= 2 ? 'yes (1 thread)' : 'no'} |`,
    `| page load to first sample < 3 s | ${best.toFixed(2)} s | ${best < 3 ? 'yes' : 'no'} |`,
    `| wasm + weights ≤ 8 MB gzipped | ${mb(sizes.wasm + sizes.weights)} | ${sizes.wasm + sizes.weights <= 8e6 ? 'yes' : 'no'} |`,
  ];
  console.log(summary);
  console.log(JSON.stringify({ summary, targets, cpu, webgpu, native1, nativeAll, firstSample, sizes }));
} finally {
  server.kill();
}
