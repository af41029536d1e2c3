import fs from 'node:fs';
import { expect, test } from '@playwright/test';
import { iteration, nonBlank, openPage, synthesizedPixels } from './helpers';

test.describe.configure({ mode: 'serial' });

test('loads from a sub-path on the CPU backend, says so, and draws every grid', async ({ page }) => {
  const errors = await openPage(page);
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm, \d+ threads?\).*(no adapter|no WebGPU)/);
  const grids = await page.locator('#grids .grid-block').evaluateAll((blocks) => blocks.map((b) => (b as HTMLElement).dataset.size));
  expect(grids).toEqual(['1', '4', '16', '64']);
  // The observed pyramid is drawn as soon as the bundled images are in.
  await expect.poll(() => page.locator('#grids .row:first-of-type canvas:not(.empty)').count()).toBeGreaterThan(20);
  expect(errors).toEqual([]);
});

test('Train advances the counter, the charts and every grid; Pause stops them', async ({ page }) => {
  await openPage(page, '?preset=small&batch=4&steps=10&seed=3');
  const before = await synthesizedPixels(page);
  const pressed = Date.now();
  await page.click('#train');
  await expect(page.locator('#train')).toHaveText('Pause');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(1);
  // Every grid's synthesized canvases are painted and not blank (within 30 s of pressing Train).
  await expect
    .poll(async () => (await synthesizedPixels(page)).every((g) => g.painted > 0 && nonBlank(g.data)), { timeout: 30_000 })
    .toBe(true);
  expect(Date.now() - pressed).toBeLessThan(30_000);
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(3);
  await expect.poll(() => page.locator('#charts').getAttribute('data-points').then(Number)).toBeGreaterThanOrEqual(3);
  const after = await synthesizedPixels(page);
  expect(after.map((g) => g.data)).not.toEqual(before.map((g) => g.data));
  await expect(page.locator('#speed')).toHaveText(/it\/s/);

  await page.click('#train');
  await expect(page.locator('#train')).toHaveText('Train');
  await expect(page.locator('body')).toHaveAttribute('data-playing', 'false');
  await page.waitForTimeout(500); // the iteration in flight when Pause was pressed finishes
  const stopped = await iteration(page);
  await page.waitForTimeout(3000);
  expect(await iteration(page)).toBe(stopped);
  fs.mkdirSync('test-results', { recursive: true });
  await page.screenshot({ path: 'test-results/page.png', fullPage: true });
});

test('a corrupt image is reported by name and the other images still load', async ({ page }) => {
  await openPage(page);
  const count = Number((await page.textContent('#image-count'))!.split(' ')[0]);
  const good = fs.readFileSync('data/textures/held-out/brick_00.png');
  await page.setInputFiles('#files', [
    { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('\x89PNG\r\n\x1a\nthis is not a PNG') },
    { name: 'good.png', mimeType: 'image/png', buffer: good },
  ]);
  await expect(page.locator('#messages .error')).toContainText('broken.png');
  await expect(page.locator('#image-count')).toHaveText(`${count + 1} observed images`);
  // Training still works on the images that loaded.
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(1);
});

test('weights: download, reload, upload restores the same samples for the same seed', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=5');
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(1);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(2);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const file = await download.path();
  expect(download.suggestedFilename()).toMatch(/\.bpk$/);
  const sampled = Number((await page.locator('body').getAttribute('data-sampled')) ?? 0);
  await page.click('#sample');
  await expect(page.locator('body')).toHaveAttribute('data-sampled', String(sampled + 1));
  const samples = (await synthesizedPixels(page)).map((g) => g.data);

  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  // Chain i starts from observed image i's colour: the same images, the same samples.
  await expect(page.locator('#image-count')).toHaveText(/^[1-9]\d* observed images?/);
  await page.setInputFiles('#upload', file!);
  await expect(page.locator('#messages .info').first()).toContainText('iteration 2');
  await expect.poll(() => iteration(page)).toBe(2);
  await expect.poll(async () => (await synthesizedPixels(page)).map((g) => g.data)).toEqual(samples);
});

test('a corrupt weights file is refused and the current model is kept', async ({ page }) => {
  await openPage(page, '?preset=tiny');
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(1);
  await page.setInputFiles('#upload', { name: 'model.bpk', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model at all') });
  await expect(page.locator('#messages .error')).toContainText('model.bpk is not a usable model');
  await expect(page.locator('#messages .error')).toContainText('current model is kept');
  expect(await iteration(page)).toBe(1);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(2);
});

test('settings live in the URL and the controls work from the keyboard on a narrow screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openPage(page, '?preset=tiny&steps=7&lr=0.05&method=pcd&seed=9');
  await expect(page.locator('#steps')).toHaveValue('7');
  await expect(page.locator('#method')).toHaveValue('pcd');
  await page.locator('#more > summary').click(); // on a phone the settings are a panel to open
  await page.fill('#delta', '0.4');
  await page.locator('#delta').press('Enter');
  await page.locator('#delta').blur();
  await expect.poll(() => new URL(page.url()).searchParams.get('delta')).toBe('0.4');
  expect(new URL(page.url()).searchParams.get('steps')).toBe('7');
  // Space trains, space pauses.
  await page.locator('h1').click();
  await page.keyboard.press(' ');
  await expect(page.locator('body')).toHaveAttribute('data-playing', 'true');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(1);
  await page.keyboard.press(' ');
  await expect(page.locator('body')).toHaveAttribute('data-playing', 'false');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(1);
});
