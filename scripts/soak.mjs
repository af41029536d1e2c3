// Soak: train in the page for a long time (default an hour) in headless Chromium against the built
// page (dist/, served with COOP/COEP), and sample every --interval seconds the memory of the page
// and its workers (performance.measureUserAgentSpecificMemory, which the isolated page may call),
// the wasm instance's memory, the iteration, and the errors and warnings the page shows or throws.
// Prints a table and, on its last line, one JSON object (scripts/soak.py writes reports/soak.md
// from it); exits 1 on an error (a warning is reported, not failed), when training stopped, or
// when memory grew by more than 20% between the first sample after warm-up (minute 5, or half the
// run when shorter) and the last.
//   node scripts/soak.mjs [--minutes 60] [--interval 60] [--query '?preset=small&backend=cpu&debug=1'] [--dist dist]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    interval: { type: 'string', default: '60' },
    query: { type: 'string', default: '?preset=small&seed=1&backend=cpu&debug=1' },
    dist: { type: 'string', default: 'dist' },
  },
});
const port = 4197;
const url = `http://127.0.0.1:${port}/multigrid-ebm/${values.query}`;
const args = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const server = spawn('node', ['scripts/serve.mjs', '--dir', values.dist, '--base', '/multigrid-ebm/', '--port', String(port)], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 800));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args });
const browserVersion = browser.version();
const errors = [];
const warnings = [];
const samples = [];
const interval = Number(values.interval);
const count = Math.max(1, Math.round((Number(values.minutes) * 60) / interval));
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForFunction(() => /^[1-9]/.test(document.getElementById('image-count')?.textContent ?? ''));
  await page.click('#train');
  const started = Date.now();
  for (let i = 1; i <= count; i++) {
    const minute = Number(((i * interval) / 60).toFixed(2));
    await page.waitForTimeout(started + i * interval * 1000 - Date.now());
    const s = await page.evaluate(async () => {
      const m = await performance.measureUserAgentSpecificMemory();
      const wasm = await window.multigridMemory();
      return {
        iteration: Number(document.body.dataset.iteration),
        rollbacks: Number(document.body.dataset.rollbacks ?? 0),
        playing: document.body.dataset.playing === 'true',
        allBytes: m.bytes,
        wasmBytes: wasm.wasmBytes,
        // Each message's own words (its first node), without its dismiss button.
        errors: Array.from(document.querySelectorAll('#messages .error')).map((e) => e.firstChild.textContent),
        warnings: Array.from(document.querySelectorAll('#messages .warning')).map((e) => e.firstChild.textContent),
        backend: document.getElementById('backend')?.textContent,
      };
    });
    samples.push({ minute, ...s });
    for (const e of s.errors) if (!errors.includes(e)) errors.push(e);
    for (const w of s.warnings) if (!warnings.includes(w)) warnings.push(w);
    console.error(`minute ${minute}: iteration ${s.iteration}, all memory ${(s.allBytes / 1e6).toFixed(1)} MB, wasm ${(s.wasmBytes / 1e6).toFixed(1)} MB${s.playing ? '' : ' (stopped)'}`);
  }
} finally {
  await browser.close();
  server.kill();
}
const warm = samples.find((s) => s.minute >= Math.min(5, samples.at(-1).minute / 2)) ?? samples[0];
const last = samples.at(-1);
const growth = { all: last.allBytes / warm.allBytes, wasm: last.wasmBytes / warm.wasmBytes };
console.log('| minute | iteration | rollbacks so far | page and workers (MB) | wasm memory (MB) |');
console.log('|---|---|---|---|---|');
for (const s of samples) console.log(`| ${s.minute} | ${s.iteration} | ${s.rollbacks} | ${(s.allBytes / 1e6).toFixed(1)} | ${(s.wasmBytes / 1e6).toFixed(1)} |`);
console.log(`from minute ${warm.minute} to ${last.minute}: page and workers ×${growth.all.toFixed(3)}, wasm ×${growth.wasm.toFixed(3)}; errors: ${errors.length ? errors.join(' | ') : 'none'}; warnings: ${warnings.length ? warnings.join(' | ') : 'none'}`);
console.log(JSON.stringify({ query: values.query, browser: `Chromium ${browserVersion}`, samples, warm: warm.minute, growth, errors, warnings }));
const flat = growth.all <= 1.2 && growth.wasm <= 1.2;
process.exit(errors.length === 0 && flat && last.playing ? 0 : 1);
