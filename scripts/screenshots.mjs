// The README's screenshots of the built page: docs/screenshot-1280.png and docs/screenshot-390.png,
// taken once the pretrained model's samples show (tour dismissed), in Playwright's Chromium.
// Serves dist/ as the end-to-end tests do (build it first: npx vite build, after the wasm).
//   node scripts/screenshots.mjs [--dir dist] [--port 4199] [--out docs]
// CHROMIUM names the browser (default /usr/bin/chromium). Each image is cut to the first
// CROP_HEIGHT pixels of the page (the phone layout is one long column), and to less if it is
// still over MAX_BYTES.
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'dist' },
    port: { type: 'string', default: '4199' },
    out: { type: 'string', default: 'docs' },
  },
});
const base = '/multigrid-ebm/';
const url = `http://127.0.0.1:${values.port}${base}`;
const WIDTHS = [1280, 390];
const MAX_BYTES = 400 * 1024;
const CROP_HEIGHT = 2000;

async function waitForServer(deadline = Date.now() + 30_000) {
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the page server did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const server = spawn(process.execPath, ['scripts/serve.mjs', '--dir', values.dir, '--base', base, '--port', values.port], { stdio: 'ignore' });
const browser = await chromium
  .launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] })
  .catch((e) => {
    server.kill();
    throw e;
  });
try {
  await waitForServer();
  mkdirSync(values.out, { recursive: true });
  for (const width of WIDTHS) {
    const context = await browser.newContext({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${url}?tour=off`);
    await page.waitForSelector('body[data-first-sample]', { timeout: 120_000 });
    await page.waitForFunction(() => /^[1-9]\d* observed images?/.test(document.getElementById('image-count')?.textContent ?? ''), null, { timeout: 120_000 });
    // The observed pyramid and the samples are on their canvases; let the last paint settle.
    await page.waitForFunction(() => document.querySelectorAll('#grids canvas.tile:not(.empty)').length > 0);
    await page.waitForTimeout(1000);
    const path = join(values.out, `screenshot-${width}.png`);
    const full = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let height = Math.min(full, CROP_HEIGHT); ; height = Math.round(height * 0.8)) {
      await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width, height } });
      if (statSync(path).size <= MAX_BYTES || height < 900) break;
    }
    console.log(`${path}: ${(statSync(path).size / 1024).toFixed(0)} KB`);
    await context.close();
  }
} finally {
  await browser.close();
  server.kill();
}
