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

test('start-up on forced WebGPU: controls wait for the model, the status says what is happening, nothing false is said', async ({ page }) => {
  const { found } = await adapter(page);
  test.skip(!found, 'SKIPPED: this Chromium has no WebGPU adapter');
  // Every status line the page shows, from the first one on.
  await page.addInitScript(() => {
    const seen: string[] = ((window as unknown as { statuses: string[] }).statuses = []);
    document.addEventListener('DOMContentLoaded', () => {
      const status = document.getElementById('status')!;
      new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
    });
  });
  await page.goto('?preset=tiny&seed=2&backend=webgpu');
  await expect(page.locator('#train')).toBeDisabled();
  await expect(page.locator('#train')).toHaveAttribute('title', /Waiting for the model to start/);
  await page.keyboard.press('Space'); // the keyboard shortcut does nothing either while starting
  await expect(page.locator('#train')).toBeEnabled({ timeout: 180_000 });
  await expect(page.locator('#train')).toHaveAttribute('title', /Train/);
  await expect(page.locator('#image-count')).toHaveText(/^[1-9]\d* observed images/);
  const statuses = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
  expect(statuses.some((s) => /^starting the model: loading the wasm and WebGPU… \d+\.\d s$/.test(s))).toBe(true);
  expect(statuses.some((s) => /^loading the bundled images… \d+\.\d s$/.test(s))).toBe(true);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
  await expect(page.locator('#messages')).not.toContainText('Add some images');
  await expect(page.locator('#messages .error')).toHaveCount(0);
});
