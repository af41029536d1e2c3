// The page's wasm CPU backend on one thread and on every core, side by side in one run, in headless
// Chromium against the built page (dist/, served with COOP/COEP by scripts/serve.mjs): training
// it/s of the `small` preset (Train pressed, warm-up iterations dropped), and ms per op of one grid
// of the paper nets (window.multigridBench). Rounds alternate the two configurations; each figure
// is a median. Prints a table and, on its last line, one JSON object.
//   node scripts/bench-threads.mjs [--rounds 3] [--seconds 20] [--dist dist]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    dist: { type: 'string', default: 'dist' },
  },
});
const port = 4193;
const base = '/multigrid-ebm/';
const url = `http://127.0.0.1:${port}${base}`;
const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One configuration in a fresh browser: training it/s of `small`, then one paper grid's ops. */
async function measure(threads) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args });
  try {
    const page = await browser.newPage();
    const query = `?preset=small&seed=1&backend=cpu${threads === 1 ? '&threads=1' : ''}`;
    await page.goto(url + query);
    await page.waitForSelector('body[data-ready=true]');
    await page.waitForFunction(() => /^[1-9]/.test(document.getElementById('image-count')?.textContent ?? ''));
    const badge = await page.locator('#backend').textContent();
    const it = () => page.evaluate(() => Number(document.body.dataset.iteration));
    const start = await it();
    await page.click('#train');
    await page.waitForFunction((n) => Number(document.body.dataset.iteration) >= n, start + 3, { timeout: 120_000 });
    const [i0, t0] = [await it(), Date.now()];
    await page.waitForTimeout(Number(values.seconds) * 1000);
    const [i1, t1] = [await it(), Date.now()];
    await page.click('#train');
    await page.waitForSelector('body[data-playing=false]');
    await page.waitForTimeout(1500); // the iteration in flight, and the save on pause
    const ops = await page.evaluate(() => window.multigridBench('paper', 64, 16, 3, 'cpu'));
    return { badge, itersPerSecond: (i1 - i0) / ((t1 - t0) / 1000), ops };
  } finally {
    await browser.close();
  }
}

const server = spawn('node', ['scripts/serve.mjs', '--dir', values.dist, '--base', base, '--port', String(port)], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 800));
try {
  const runs = { one: [], all: [] };
  for (let round = 0; round < Number(values.rounds); round++) {
    runs.one.push(await measure(1));
    runs.all.push(await measure(null));
    console.error(`round ${round + 1}: ${runs.one.at(-1).itersPerSecond.toFixed(2)} vs ${runs.all.at(-1).itersPerSecond.toFixed(2)} it/s`);
  }
  const summary = (rs) => ({
    badge: rs[0].badge,
    itersPerSecond: median(rs.map((r) => r.itersPerSecond)),
    forwardMs: median(rs.map((r) => r.ops.forward_ms)),
    langevinStepMs: median(rs.map((r) => r.ops.langevin_step_ms)),
    updateMs: median(rs.map((r) => r.ops.update_ms)),
    spread: [Math.min(...rs.map((r) => r.itersPerSecond)), Math.max(...rs.map((r) => r.itersPerSecond))],
  });
  const [one, all] = [summary(runs.one), summary(runs.all)];
  const ratio = all.itersPerSecond / one.itersPerSecond;
  console.log(`| wasm CPU | small it/s (spread) | paper g64 b16 forward ms | Langevin step ms | update ms |`);
  console.log(`|---|---|---|---|---|`);
  for (const [name, s] of [['1 thread', one], [all.badge.replace(/^CPU \(wasm, |\).*$/g, ''), all]]) {
    console.log(`| ${name} | ${s.itersPerSecond.toFixed(2)} (${s.spread.map((x) => x.toFixed(2)).join('–')}) | ${s.forwardMs.toFixed(1)} | ${s.langevinStepMs.toFixed(1)} | ${s.updateMs.toFixed(1)} |`);
  }
  console.log(`every core / one thread: ${ratio.toFixed(2)}× it/s, ${(one.langevinStepMs / all.langevinStepMs).toFixed(2)}× per Langevin step`);
  console.log(JSON.stringify({ one, all, ratio, rounds: Number(values.rounds), seconds: Number(values.seconds) }));
} finally {
  server.kill();
}
