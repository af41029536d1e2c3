import { type Page, expect, test } from '@playwright/test';
import { iteration, openPage, skipTour } from './helpers';

// scripts/serve.mjs sends COOP/COEP (the page's own server); the same dist/ is also served without
// them, as a static host that cannot set headers would (playwright.config.ts: port + 1).
const plainServer = `http://127.0.0.1:${Number(process.env.E2E_PORT ?? 4179) + 1}/multigrid-ebm/`;

/** The model is up and the bundled images are in (openPage's wait, for a page already navigated). */
async function loaded(page: Page) {
  await page.waitForSelector('body[data-ready=true]');
  await expect(page.locator('#image-count')).toHaveText(/^[1-9]\d* observed images?/);
}

test('isolated by its server, the page trains on every core of the wasm CPU backend and says so', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=2&backend=cpu');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  test.skip(cores < 2, `SKIPPED: this machine reports ${cores} core`);
  await expect(page.locator('#backend')).toHaveText(new RegExp(`^CPU \\(wasm, ${cores} threads\\)`));
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(1);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('?threads=1 runs the single-threaded build and says why', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=2&backend=cpu&threads=1');
  await expect(page.locator('#backend')).toHaveText(/^CPU \(wasm, 1 thread\).*one thread: \?threads=1/);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(1);
});

test('served without COOP/COEP, the page runs single-threaded, then is isolated by its service worker after one reload', async ({ page }) => {
  await skipTour(page);
  await page.goto(`${plainServer}?preset=tiny&seed=2&backend=cpu`);
  await loaded(page);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  await expect(page.locator('#backend')).toHaveText(/^CPU \(wasm, 1 thread\).*not cross-origin isolated yet/);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(1);
  await page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, { timeout: 30_000 });
  await page.reload();
  await loaded(page);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  await expect(page.locator('#backend')).toHaveText(new RegExp(`^CPU \\(wasm, ${cores} threads?\\)`));
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(1);
});
