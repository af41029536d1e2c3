import { expect, test } from '@playwright/test';
import { iteration, openPage, skipTour } from './helpers';

// Every step of start-up that waits on the browser has a time limit; a step that overruns gives
// way to what works, and the badge says which step it was.

/** navigator.gpu whose requestAdapter() never settles, in the page and in its workers. */
const NEVER = `(() => {
  const gpu = { requestAdapter: () => new Promise(() => {}), getPreferredCanvasFormat: () => 'bgra8unorm' };
  Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => gpu, configurable: true });
})();
`;

test('a WebGPU adapter request that never answers: the model starts on the CPU and the badge says so', async ({ page }) => {
  await page.addInitScript(NEVER);
  await page.route(/\/assets\/worker-[^/]*\.js$/, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: NEVER + (await response.text()) });
  });
  const started = Date.now();
  await openPage(page);
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'cpu');
  await expect(page.locator('#backend')).toContainText('requestAdapter() did not finish within 10 s');
  console.log(`start-up with a hanging adapter request: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const before = await iteration(page);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 60_000 }).toBe(before + 1);
  await expect(page.locator('#messages .error')).toHaveCount(0);
});

/** In the model's worker, `new Worker()` (a pool worker of the threaded build) blocks for good, as
 *  it now and then does in Firefox. */
const BLOCKING_WORKERS = `(() => {
  const Original = self.Worker;
  self.Worker = function (...args) {
    for (;;);
    return new Original(...args);
  };
})();
`;

test('a thread pool that never starts: tried once more, then the single-threaded build runs, and the badge says so', async ({ page }) => {
  await page.route(/\/assets\/worker-[A-Za-z0-9_-]+\.js$/, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: BLOCKING_WORKERS + (await response.text()) });
  });
  const started = Date.now();
  await openPage(page, '?backend=cpu');
  const badge = page.locator('#backend');
  await expect(badge).toHaveAttribute('data-threads', '1');
  await expect(badge).toContainText('starting the thread pool (2 threads) did not finish within 10 s, twice: the single-threaded CPU build runs instead');
  console.log(`start-up with a blocking thread pool: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const before = await iteration(page);
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 60_000 }).toBe(before + 1);
});

test('Train pressed while the bundled images load: training starts once they are in', async ({ page }) => {
  await skipTour(page);
  let release = () => {};
  const held = new Promise<void>((go) => (release = go));
  await page.route(/\/data\/textures\/train\.pack\.png$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.goto('?preset=tiny&seed=2&backend=cpu');
  await page.waitForSelector('body[data-ready=true]');
  await expect(page.locator('#train')).toBeEnabled();
  const start = await iteration(page);
  await page.click('#train');
  await expect(page.locator('#status')).toHaveText('training starts once the images are in…');
  expect(await iteration(page)).toBe(start);
  release();
  await expect(page.locator('#image-count')).toHaveText(/^[1-9]\d* observed images?/);
  await expect.poll(() => iteration(page), { timeout: 60_000 }).toBeGreaterThan(start);
  await page.click('#train'); // pause
  await expect(page.locator('body')).toHaveAttribute('data-playing', 'false');
  await expect(page.locator('#messages .error')).toHaveCount(0);
});
