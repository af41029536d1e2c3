import { type Page, expect, test } from '@playwright/test';
import { iteration, nonBlank, openPage, skipTour, synthesizedPixels } from './helpers';

/** Whether this Chromium has a WebGPU adapter, and whether it is a software one. */
async function adapter(page: Page): Promise<{ found: boolean; software: boolean }> {
  await skipTour(page);
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

test('without ?backend the page measures both backends and runs the model on the faster one', async ({ page }) => {
  const { found, software } = await adapter(page);
  test.skip(!found || !software, `SKIPPED: this Chromium's adapter is ${found ? 'a hardware one' : 'missing'}`);
  await openPage(page, '?preset=tiny');
  // It starts on the CPU (a software adapter), and says why, before any figure exists.
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm, \d+ threads?\).*software one/);
  const badge = page.locator('#backend[data-measured]');
  await expect(badge).toHaveCount(1, { timeout: 180_000 });
  const figures = JSON.parse((await badge.getAttribute('data-measured'))!) as { backend: string; ms: number | null }[];
  expect(figures.map((f) => f.backend)).toEqual(['cpu', 'webgpu']);
  for (const f of figures) expect(f.ms, `${f.backend} measured`).toBeGreaterThan(0);
  const faster = figures[0].ms! <= figures[1].ms! ? 'cpu' : 'webgpu';
  // The badge names both figures, and the model runs on the faster backend.
  await expect(page.locator('#backend')).toHaveText(/CPU \(wasm, \d+ threads?\) [\d.]+ ms · WebGPU · .* [\d.]+ ms per Langevin step/, { timeout: 120_000 });
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', faster);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('the Benchmark panel times WebGPU beside the CPU', async ({ page }) => {
  const { found } = await adapter(page);
  test.skip(!found, 'SKIPPED: this Chromium has no WebGPU adapter');
  await openPage(page, '?preset=tiny&backend=cpu');
  await page.uncheck('#bench-paper');
  await page.click('#bench-run');
  await expect(page.locator('#benchmark')).toHaveAttribute('data-measured', '1', { timeout: 180_000 });
  for (const backend of ['cpu', 'webgpu']) {
    const cells = page.locator(`#bench-table tbody tr[data-backend=${backend}] td`);
    await expect(cells).toHaveCount(6);
    for (const i of [2, 3, 4]) expect(Number(await cells.nth(i).textContent()), `${backend} column ${i}`).toBeGreaterThan(0);
  }
  await expect(page.locator('#bench-table tbody tr[data-backend=webgpu] td').first()).toHaveText(/^WebGPU · /);
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
  // Each step of start-up, named, with its seconds so far.
  expect(statuses.some((s) => /^starting the model: .+… \d+\.\d s$/.test(s))).toBe(true);
  expect(statuses.some((s) => /^loading the bundled images… \d+\.\d s$/.test(s))).toBe(true);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
  await expect(page.locator('#messages')).not.toContainText('Add some images');
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

test('on WebGPU a Langevin chain does not wait on the GPU: round trips do not grow with its steps', async ({ page }) => {
  const { found } = await adapter(page);
  test.skip(!found, 'SKIPPED: this Chromium has no WebGPU adapter');
  await openPage(page, '?preset=tiny&seed=2&backend=webgpu&debug=1');
  await expect(page.locator('#backend')).toHaveText(/^WebGPU · /);
  type Calls = { dispatches: number; submits: number; maps: number; waits: number };
  const calls = (reset: boolean) => page.evaluate((r) => (window as unknown as { multigridGpuCalls(r: boolean): Promise<Calls> }).multigridGpuCalls(r), reset);
  const sampled = () => page.evaluate(() => Number(document.body.dataset.sampled ?? 0));
  const countSample = async (steps: number) => {
    await page.fill('#steps', String(steps));
    await page.locator('#steps').blur();
    await expect.poll(() => new URL(page.url()).searchParams.get('steps')).toBe(String(steps));
    await calls(true);
    const before = await sampled();
    await page.click('#sample');
    await expect.poll(sampled, { timeout: 120_000 }).toBe(before + 1);
    return calls(false);
  };
  const short = await countSample(6);
  const long = await countSample(24);
  console.log(`WebGPU calls per sample of 8 images (tiny: 2 grids), T=6: ${JSON.stringify(short)}; T=24: ${JSON.stringify(long)}`);
  expect(short.dispatches).toBeGreaterThan(0);
  // Four times the Langevin steps: far more dispatches, and the same waits on the GPU (the
  // chain runs to its end; the frames and images are read back once each, after it).
  expect(long.dispatches).toBeGreaterThan(2.5 * short.dispatches);
  expect(long.maps).toBe(short.maps);
  expect(long.waits).toBe(short.waits);
});
