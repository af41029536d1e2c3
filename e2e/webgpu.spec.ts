import { expect, test } from '@playwright/test';
import { iteration, nonBlank, openPage, synthesizedPixels } from './helpers';

test('with a WebGPU adapter the page trains on WebGPU and names the adapter', async ({ page }) => {
  await page.goto('?preset=tiny&seed=2');
  const hasAdapter = await page.evaluate(async () => !!(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()));
  test.skip(!hasAdapter, 'SKIPPED: this Chromium has no WebGPU adapter');
  await openPage(page, '?preset=tiny&seed=2');
  await expect(page.locator('#backend')).toHaveText(/^WebGPU · /);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
  await expect.poll(async () => (await synthesizedPixels(page)).every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('?backend=cpu forces the CPU backend even with an adapter', async ({ page }) => {
  await openPage(page, '?preset=tiny&backend=cpu');
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm\).*backend=cpu/);
});
