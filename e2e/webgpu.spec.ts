import { type Page, expect, test } from '@playwright/test';
import { iteration, nonBlank, openPage, synthesizedPixels } from './helpers';

/** Whether this Chromium has a WebGPU adapter, and whether it is a software one. */
async function adapter(page: Page): Promise<{ found: boolean; software: boolean }> {
  await page.goto('?preset=tiny');
  return page.evaluate(async () => {
    type Adapter = { isFallbackAdapter?: boolean; info?: { isFallbackAdapter?: boolean } };
    const a = (await (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu?.requestAdapter()) ?? null;
    return { found: !!a, software: !!(a?.info?.isFallbackAdapter ?? a?.isFallbackAdapter) };
  });
}

test('with a WebGPU adapter the page trains on WebGPU and names the adapter', async ({ page }) => {
  const { found } = await adapter(page);
  test.skip(!found, 'SKIPPED: this Chromium has no WebGPU adapter');
  // Asked for explicitly, so a software adapter is used too.
  await openPage(page, '?preset=tiny&seed=2&backend=webgpu');
  await expect(page.locator('#backend')).toHaveText(/^WebGPU · /);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
  await expect.poll(async () => (await synthesizedPixels(page)).every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('?backend=cpu forces the CPU backend even with an adapter', async ({ page }) => {
  await openPage(page, '?preset=tiny&backend=cpu');
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm, \d+ threads?\).*backend=cpu/);
});

test('a software-only WebGPU adapter is passed over for the CPU, and the page says why', async ({ page }) => {
  const { found, software } = await adapter(page);
  test.skip(!found || !software, `SKIPPED: this Chromium's adapter is ${found ? 'a hardware one' : 'missing'}`);
  await openPage(page, '?preset=tiny');
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm, \d+ threads?\).*slower than the CPU here; \?backend=webgpu uses it/);
});

test('a lost GPU device moves training to the CPU with the weights of the iteration before the loss', async ({ page }) => {
  const { found } = await adapter(page);
  test.skip(!found, 'SKIPPED: this Chromium has no WebGPU adapter');
  await openPage(page, '?preset=tiny&seed=2&backend=webgpu&debug=1');
  await expect(page.locator('#backend')).toHaveText(/^WebGPU · /);
  for (let i = 1; i <= 2; i++) {
    await page.click('#step');
    await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(i);
  }
  await expect(page.locator('#lose-device')).toBeVisible();
  await page.click('#lose-device');
  await expect(page.locator('#messages')).toContainText('Destroyed');
  await page.click('#train');
  await expect(page.locator('#backend')).toHaveText(/^CPU \(wasm, \d+ threads?\)/, { timeout: 120_000 });
  await expect(page.locator('#messages')).toContainText('continuing on the CPU backend from iteration 2');
  // Training goes on from there without another press.
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(4);
  await page.click('#train');
});
