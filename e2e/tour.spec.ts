import { expect, test } from '@playwright/test';
import { TOUR_KEY, openPage } from './helpers';

// The guided tour (www/tour.ts). Every test here is a first visit: a fresh browser context with
// nothing in localStorage, opened without the helpers' tour dismissal.

const card = '#tour';

test('a first visit shows the tour; Skip dismisses it for good and the Tour button replays it', async ({ page }) => {
  const errors = await openPage(page, '?preset=tiny&seed=2', { tour: true });
  const dialog = page.getByRole('dialog', { name: 'One energy-based model per grid' });
  await expect(dialog).toBeVisible();
  await expect(page.locator(card)).toHaveAttribute('data-step', 'model');
  await expect(page.locator('#tour-counter')).toHaveText(/^Step 1 of \d+$/);
  await expect(page.locator('#tour-next')).toBeFocused();
  await expect(page.locator('#tour-back')).toBeDisabled();
  await expect(page.locator('#tour-start')).toHaveAttribute('aria-expanded', 'true');

  await page.getByRole('button', { name: 'Skip tour' }).click();
  await expect(page.locator(card)).toBeHidden();
  await expect(page.locator('.tour-target')).toHaveCount(0);
  await expect(page.locator('#tour-start')).toBeFocused();
  expect(await page.evaluate((key) => localStorage.getItem(key), TOUR_KEY)).toBe('done');

  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForTimeout(500);
  await expect(page.locator(card)).toBeHidden();

  await page.getByRole('button', { name: 'Tour' }).click();
  await expect(page.locator(card)).toBeVisible();
  await expect(page.locator('#tour-counter')).toHaveText(/^Step 1 of /);
  // Escape skips, from the keyboard.
  await page.keyboard.press('Escape');
  await expect(page.locator(card)).toBeHidden();
  expect(errors).toEqual([]);
});

test('Next walks through the stages in data order and outlines the grid block of each step', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=2', { tour: true });
  const scales = await page.locator('#grids .grid-block').evaluateAll((blocks) => blocks.map((b) => Number((b as HTMLElement).dataset.size)));
  expect(scales).toEqual([1, 4, 16]);
  // Step id → what it outlines.
  const expected: [string, string][] = [
    ['model', 'section[aria-labelledby="grids-title"]'],
    ['grid-1', '#grids .grid-block[data-size="1"]'],
    ['upsample-4', '#grids .grid-block[data-size="4"]'],
    ['grid-4', '#grids .grid-block[data-size="4"]'],
    ['grid-16', '#grids .grid-block[data-size="16"]'],
    ['update', '#charts'],
    ['train', '#toolbar .group.play'],
  ];
  await expect(page.locator(card)).toBeVisible();
  for (const [k, [id, outlined]] of expected.entries()) {
    await expect(page.locator(card)).toHaveAttribute('data-step', id);
    await expect(page.locator('#tour-counter')).toHaveText(`Step ${k + 1} of ${expected.length}`);
    await expect(page.locator('.tour-target')).toHaveCount(1);
    await expect(page.locator(outlined)).toHaveClass(/\btour-target\b/);
    await expect(page.locator(outlined)).toBeInViewport();
    if (k < expected.length - 1) {
      // Keyboard: Next has the focus, and Enter presses it.
      await expect(page.locator('#tour-next')).toBeFocused();
      await page.keyboard.press('Enter');
    }
  }
  await expect(page.locator('#tour-title')).toHaveText('Your turn');
  await expect(page.locator('#tour-next')).toHaveText('Done');
  // The Langevin step names the grid's energy in the paper's notation.
  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByRole('button', { name: 'Back' }).click();
  await expect(page.locator(card)).toHaveAttribute('data-step', 'grid-4');
  await expect(page.locator('#tour-title')).toHaveText('Langevin dynamics under f₄');
  await expect(page.locator('#grids .grid-block[data-size="4"]')).toHaveClass(/\btour-target\b/);
  for (let i = 0; i < 3; i++) await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator(card)).toBeHidden();
  expect(await page.evaluate((key) => localStorage.getItem(key), TOUR_KEY)).toBe('done');
});

test('without localStorage the tour still shows and can be skipped', async ({ page }) => {
  await page.addInitScript(() =>
    Object.defineProperty(window, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('storage is blocked', 'SecurityError');
      },
    }),
  );
  const errors = await openPage(page, '?preset=tiny&seed=2', { tour: true });
  await expect(page.locator(card)).toBeVisible();
  await page.getByRole('button', { name: 'Skip tour' }).click();
  await expect(page.locator(card)).toBeHidden();
  expect(errors).toEqual([]);
});

test('?tour=off opens the page without the tour', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=2&tour=off', { tour: true });
  await page.waitForTimeout(500);
  await expect(page.locator(card)).toBeHidden();
  await expect(page.getByRole('button', { name: 'Tour' })).toBeVisible();
});
