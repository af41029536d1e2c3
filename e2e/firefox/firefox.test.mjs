// The page in Firefox ESR (Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi),
// with WebGPU switched off (Firefox's default on Linux) and on: several fresh visits each start
// and show the pretrained samples, and one visit each loads, trains, samples, opens an image and
// loads weights, as the Chromium suite does. Run by `npm test` (node --test e2e/firefox/);
// needs the built page (npm run build). Without Firefox it says SKIPPED and why.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const PORT = Number(process.env.FIREFOX_E2E_PORT ?? 4231);
const BASE = `http://127.0.0.1:${PORT}/multigrid-ebm/`;
/** Fresh visits (a new browser profile each) per WebGPU setting. */
const VISITS = Number(process.env.FIREFOX_VISITS ?? 3);
const missing = !existsSync(FIREFOX) ? `${FIREFOX} is not installed (scripts/setup installs firefox-esr)` : !existsSync('dist/index.html') ? 'the page is not built (npm run build)' : null;
if (missing) console.log(`SKIPPED firefox end-to-end: ${missing}`);

let server;
before(async () => {
  if (missing) return;
  server = spawn('node', ['scripts/serve.mjs', '--dir', 'dist', '--base', '/multigrid-ebm/', '--port', String(PORT)], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if (await fetch(BASE).then((r) => r.ok).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('scripts/serve.mjs did not start');
});
after(() => server?.kill());

/** A fresh Firefox (its own profile) on the page; returns the browser and the page, with the
 *  page's errors collected. */
async function visit(webgpu, query = '?tour=off') {
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, extraPrefsFirefox: { 'dom.webgpu.enabled': webgpu } });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(BASE + query);
  return { browser, page, errors };
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent ?? '');
const data = (page, key) => page.evaluate((k) => document.body.dataset[k] ?? null, key);
const iteration = async (page) => Number(await data(page, 'iteration'));
/** Wait until `check` (run in the page) is true. */
const until = (page, check, arg, timeout = 120_000) => page.waitForFunction(check, { timeout, polling: 200 }, arg);

async function pretrainedSamples(page) {
  await page.waitForSelector('body[data-first-sample]', { timeout: 120_000 });
  await until(page, () => /^[1-9]\d* observed images?/.test(document.getElementById('image-count')?.textContent ?? ''));
  return Number(await data(page, 'firstSample'));
}

for (const webgpu of [false, true]) {
  describe(`Firefox ESR, WebGPU ${webgpu ? 'on' : 'off'}`, { skip: missing ?? false }, () => {
    test(`${VISITS} fresh visits each start and show the pretrained samples, saying which backend runs`, async () => {
      for (let i = 1; i <= VISITS; i++) {
        const { browser, page, errors } = await visit(webgpu);
        try {
          const seconds = await pretrainedSamples(page);
          const badge = await text(page, '#backend');
          console.log(`visit ${i}, WebGPU ${webgpu ? 'on' : 'off'}: samples ${seconds.toFixed(1)} s after load; badge: ${badge}`);
          assert.match(badge, /^(CPU \(wasm, \d+ threads?\)|WebGPU · )/);
          if (!webgpu) assert.match(badge, /navigator\.gpu is undefined/, 'the badge says why there is no WebGPU');
          assert.equal(await page.$$eval('#messages .error', (e) => e.length), 0);
          assert.deepEqual(errors, []);
        } finally {
          await browser.close();
        }
      }
    });

    test('load, train, sample, inspect an image, load weights', async () => {
      const { browser, page, errors } = await visit(webgpu, '?tour=off&preset=tiny&seed=3');
      try {
        await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
        await until(page, () => /^[1-9]\d* observed images?/.test(document.getElementById('image-count')?.textContent ?? ''));
        // Train, then pause.
        await page.click('#train');
        await until(page, () => Number(document.body.dataset.iteration) >= 2);
        await page.click('#train');
        await until(page, () => document.body.dataset.playing === 'false');
        const trained = await iteration(page);
        assert.ok(trained >= 2, `trained to ${trained}`);
        const points = Number(await page.$eval('#charts', (e) => e.dataset.points ?? 0));
        assert.ok(points >= 2, `${points} points on the charts`);
        // Sample.
        const sampled = Number((await data(page, 'sampled')) ?? 0);
        await page.click('#sample');
        await until(page, (n) => Number(document.body.dataset.sampled ?? 0) > n, sampled);
        // Open a synthesized image: its energy arrives.
        await page.click('#grids .grid-block:last-child .row[data-which=synthesized] canvas:nth-of-type(2)');
        await until(page, () => document.getElementById('inspect')?.open === true);
        await until(page, () => /f\(I\) = /.test(document.getElementById('inspect-energy')?.textContent ?? ''));
        await page.keyboard.press('Escape');
        await until(page, () => !document.getElementById('inspect')?.open);
        // Load weights: the bundled small model (other nets than the tiny one trained here).
        const upload = await page.$('#upload');
        await upload.uploadFile('weights/small.bpk');
        await until(page, () => /Loaded small\.bpk \(iteration \d+\)/.test(document.getElementById('messages')?.textContent ?? ''));
        assert.deepEqual(await page.$$eval('#grids .grid-block', (b) => b.map((e) => e.dataset.size)), ['1', '4', '16', '64']);
        assert.equal(await page.$$eval('#messages .error', (e) => e.length), 0);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    });
  });
}

// The pretrained weights must be there for the checks above.
if (!missing) assert.ok(readFileSync('weights/small.bpk').length > 1000);
