import { expect, test } from '@playwright/test';
import { openPage, synthesizedPixels, nonBlank } from './helpers';

test('the digits dataset brings its pretrained model: samples at 32×32 within seconds, from 1,000 digits', async ({ page }) => {
  await openPage(page, '?dataset=digits&backend=cpu');
  await expect(page.locator('#dataset')).toHaveValue('digits');
  await expect(page.locator('#preset')).toHaveValue('digits');
  await expect(page.locator('#image-count')).toHaveText('1000 observed images');
  const sizes = await page.locator('#grids .grid-block').evaluateAll((blocks) => blocks.map((b) => (b as HTMLElement).dataset.size));
  expect(sizes).toEqual(['1', '4', '16', '32']);
  // The pretrained digits model's samples, drawn at start (page load to first sample).
  const firstSample = Number(await page.locator('body').getAttribute('data-first-sample'));
  console.log(`digits: page load to first pretrained sample ${firstSample.toFixed(2)} s`);
  expect(firstSample).toBeGreaterThan(0);
  expect(firstSample).toBeLessThan(10);
  const grids = await synthesizedPixels(page);
  expect(grids.every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('the digits arrive in one request for their images, and the controls are usable soon after the model', async ({ page }) => {
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/data/digits/')) requests.push(new URL(r.url()).pathname);
  });
  // When the model is first ready, and when Train becomes usable (page time, ms).
  await page.addInitScript(() => {
    const times: Record<string, number> = {};
    (window as unknown as { times: Record<string, number> }).times = times;
    new MutationObserver(() => {
      if (document.body?.dataset.ready && !times.ready) times.ready = performance.now();
      const train = document.getElementById('train') as HTMLButtonElement | null;
      if (times.ready && train && !train.disabled && !times.controls) times.controls = performance.now();
    }).observe(document, { subtree: true, attributes: true, childList: true });
  });
  await openPage(page, '?dataset=digits&backend=cpu');
  await expect(page.locator('#train')).toBeEnabled();
  const times = await page.evaluate(() => (window as unknown as { times: Record<string, number> }).times);
  const seconds = (times.controls - times.ready) / 1000;
  console.log(`digits: ${requests.length} requests for the dataset (${requests.join(', ')}); controls usable ${seconds.toFixed(2)} s after the model`);
  expect(requests.length).toBeLessThanOrEqual(3);
  expect(seconds).toBeLessThan(1.5);
});

test('choosing a dataset switches the images and the pretrained model together; "your own" clears the images', async ({ page }) => {
  await openPage(page, '?backend=cpu');
  await expect(page.locator('#dataset')).toHaveValue('textures');
  await expect(page.locator('#preset')).toHaveValue('small');
  await page.selectOption('#dataset', 'digits');
  await page.waitForURL(/dataset=digits/);
  await page.waitForSelector('body[data-ready=true]');
  await expect(page.locator('#preset')).toHaveValue('digits');
  await expect(page.locator('#image-count')).toHaveText('1000 observed images');
  expect(new URL(page.url()).searchParams.get('preset')).toBe('digits');
  await expect(page.locator('#messages')).not.toContainText('could not');
  await page.selectOption('#dataset', 'own');
  await expect(page.locator('#image-count')).toHaveText('0 observed images');
  await expect(page.locator('#messages')).toContainText('Drop your own images');
  expect(new URL(page.url()).searchParams.get('dataset')).toBe('own');
  // The model stays: sampling still works without images (once the sample is drawn, no error).
  const sampled = () => page.evaluate(() => Number(document.body.dataset.sampled ?? 0));
  const before = await sampled();
  await page.click('#sample');
  await expect.poll(sampled, { timeout: 120_000 }).toBe(before + 1);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});
