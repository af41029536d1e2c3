import { expect, test } from '@playwright/test';
import { iteration, nonBlank, openPage, skipTour, synthesizedPixels } from './helpers';

test('the pretrained model shows samples within 5 s of load', async ({ page }) => {
  await skipTour(page);
  await page.goto('');
  await page.waitForSelector('body[data-first-sample]', { timeout: 20_000 });
  const seconds = Number(await page.locator('body').getAttribute('data-first-sample'));
  expect(seconds).toBeLessThan(5);
  const rows = await synthesizedPixels(page);
  expect(rows.every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
});

test('autosave: after a reload the page offers to resume, and resuming restores the model', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=4');
  await page.click('#train');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(3);
  await page.click('#train'); // pausing saves, once the iteration in flight has finished
  await expect(page.locator('body')).toHaveAttribute('data-playing', 'false');
  const body = page.locator('body');
  await expect.poll(async () => (await body.getAttribute('data-saved-iteration')) === String(await iteration(page))).toBe(true);
  const saved = await iteration(page);
  await page.waitForTimeout(1500);
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await expect(page.locator('#resume')).toBeVisible();
  await expect(page.locator('#resume-text')).toContainText(`iteration ${saved}`);
  await page.click('#resume-yes');
  await expect.poll(() => iteration(page)).toBe(saved);
  await expect(page.locator('#resume')).toBeHidden();
});

test('works offline after the first visit', async ({ page, context }) => {
  await openPage(page);
  // The service worker takes control and caches what the page fetched.
  await page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, { timeout: 30_000 });
  await page.reload();
  await openPage(page);
  await context.setOffline(true);
  await page.reload();
  await openPage(page);
  await expect(page.locator('#backend')).toHaveText(/CPU/);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(1);
  await context.setOffline(false);
});
