import { expect, test } from '@playwright/test';
import { nonBlank, openPage, synthesizedPixels } from './helpers';

// The images the page exists for come first and at full size: the finest grid's samples are
// drawn no smaller than their own pixels (twice that where a row of them fits), and on a phone
// they and the Train and Sample buttons are on the first screen, the settings in a panel.

const finest = '#grids .grid-block[data-large]:last-of-type .row[data-which="synthesized"] canvas';

async function drawn(page: import('@playwright/test').Page) {
  await page.waitForSelector('body[data-first-sample]');
  await expect.poll(async () => (await synthesizedPixels(page)).every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
}

test('at 1280 px the finest grid is drawn at twice its pixels, in one row', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await openPage(page);
  await drawn(page);
  const boxes = await page.locator(finest).evaluateAll((cs) => cs.map((c) => ({ ...c.getBoundingClientRect().toJSON(), size: (c as HTMLCanvasElement).width })));
  expect(boxes.length).toBe(8);
  for (const b of boxes) {
    expect(b.width).toBeGreaterThanOrEqual(2 * b.size);
    expect(Math.abs(b.width - b.height)).toBeLessThan(1);
  }
  expect(new Set(boxes.map((b) => Math.round(b.top))).size).toBe(1);
  // The coarser grids stay small, and the settings are open on a wide screen.
  await expect(page.locator('#more')).toHaveAttribute('open', '');
  await expect(page.locator('#steps')).toBeVisible();
});

test('on a 390 px phone the first screen holds finest-grid samples and the Train and Sample buttons', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openPage(page);
  await drawn(page);
  expect(await page.evaluate(() => window.scrollY)).toBe(0);
  const first = page.locator(finest).first();
  await expect(first).toBeInViewport({ ratio: 1 });
  const width = await first.evaluate((c) => c.getBoundingClientRect().width);
  expect(width).toBeGreaterThanOrEqual(await first.evaluate((c) => (c as HTMLCanvasElement).width));
  for (const id of ['#train', '#sample']) await expect(page.locator(id)).toBeInViewport({ ratio: 1 });
  // The settings fold into a panel the visitor opens.
  await expect(page.locator('#steps')).toBeHidden();
  await page.locator('#more > summary').click();
  await expect(page.locator('#steps')).toBeVisible();
});
