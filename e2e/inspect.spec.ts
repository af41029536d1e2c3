// Inspecting an image (www/inspect.ts) and what the grids' columns mean (www/grids.ts).
import { expect, test, type Locator, type Page } from '@playwright/test';
import { iteration, openPage } from './helpers';

test.describe.configure({ mode: 'serial' });

type Which = 'observed' | 'synthesized';

/** Image `index` (0-based) of a row of grid `grid` (0 = the 1×1 grid) of the main grids. */
function tile(page: Page, grid: number, which: Which, index: number): Locator {
  return page.locator('#grids .grid-block').nth(grid).locator(`.row[data-which=${which}] canvas`).nth(index);
}

/** The first pixel's RGBA of every painted canvas of a row (null for an empty one). */
function firstPixels(page: Page, grid: number, which: Which): Promise<(number[] | null)[]> {
  return page.evaluate(
    ([grid, which]) => {
      const block = document.querySelectorAll('#grids .grid-block')[grid as number];
      return Array.from(block.querySelectorAll(`.row[data-which=${which}] canvas`) as NodeListOf<HTMLCanvasElement>).map((c) =>
        c.classList.contains('empty') ? null : Array.from(c.getContext('2d')!.getImageData(0, 0, 1, 1).data),
      );
    },
    [grid, which] as const,
  );
}

/** All of a canvas' pixels, as a string (to tell images apart). */
function canvasData(canvas: Locator): Promise<string> {
  return canvas.evaluate((c) => {
    const cv = c as HTMLCanvasElement;
    return Array.from(cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data).join(',');
  });
}

async function step(page: Page) {
  const before = await iteration(page);
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(before + 1);
}

async function sample(page: Page) {
  const before = Number((await page.locator('body').getAttribute('data-sampled')) ?? 0);
  await page.click('#sample');
  await expect(page.locator('body')).toHaveAttribute('data-sampled', String(before + 1));
}

/** An energy's value as the page writes it (−1234.5, 1.234e+6). */
const ENERGY_VALUE = '−?\\d+(\\.\\d+)?(e[+-]?\\d+)?';
const ENERGY = new RegExp(`energy ${ENERGY_VALUE}`);

test('a synthesized image opens large by mouse with its energy, chain and nearest training image; Escape closes', async ({ page }) => {
  const errors = await openPage(page, '?preset=tiny&seed=4');
  await step(page);
  const image = tile(page, 2, 'synthesized', 2);
  // The energies arrive after the iteration: every painted canvas names its grid, kind, index and energy.
  await expect(image).toHaveAttribute('aria-label', new RegExp(`^synthesized image 3 at 16×16, ${ENERGY.source}$`));
  await expect(tile(page, 1, 'observed', 0)).toHaveAttribute('aria-label', new RegExp(`^observed image 1 at 4×4, ${ENERGY.source}$`));
  await expect(tile(page, 0, 'synthesized', 0)).toHaveAttribute('aria-label', /1×1 grid has no net/);
  const label = (await image.getAttribute('aria-label'))!;

  await image.click();
  const dialog = page.locator('#inspect');
  await expect(dialog).toBeVisible();
  await expect(page.locator('#inspect-title')).toHaveText('Synthesized image 3 at 16×16');
  // The energy is the one the canvas is labelled with (tiny: no batch normalisation).
  await expect(page.locator('#inspect-energy')).toContainText('f(I) = ');
  const shown = (await page.locator('#inspect-energy b').textContent())!.replace('f(I) = ', '');
  expect(label).toContain(`energy ${shown}`);
  await expect(page.locator('#inspect-energy')).not.toContainText('with its batch');
  // Large, with crisp pixels, and the image that was clicked.
  const big = page.locator('#inspect-image');
  const box = (await big.boundingBox())!;
  expect(box.width).toBeGreaterThanOrEqual(256);
  expect(await big.evaluate((c) => getComputedStyle(c).imageRendering)).toBe('pixelated');
  expect(await canvasData(big)).toBe(await canvasData(image));
  // The colour the chain started from is the synthesized 1×1 image of the same column.
  const start = await page.locator('#inspect-start-colour').evaluate((c) => Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 1, 1).data));
  expect(start).toEqual((await firstPixels(page, 0, 'synthesized'))[2]);
  // The Langevin steps replay: the slider's first frame is the up-sampled 4×4 result.
  const slider = page.locator('#inspect-step');
  expect(Number(await slider.getAttribute('max'))).toBeGreaterThanOrEqual(2);
  await slider.fill('0');
  await expect(page.locator('#inspect-frame')).toHaveText('start: the 4×4 result, up-sampled');
  expect(await big.evaluate((c) => (c as HTMLCanvasElement).width)).toBe(4);
  await slider.fill('1');
  await expect(page.locator('#inspect-frame')).toHaveText(new RegExp(`^after Langevin step \\d+ of 10( · f = ${ENERGY_VALUE})?$`));
  await page.click('#inspect-play');
  await expect(page.locator('#inspect-frame')).toHaveText(new RegExp(`^result after 10 steps( · f = ${ENERGY_VALUE})?$`), { timeout: 10_000 });
  // The nearest observed image at 16×16, by name and rms difference.
  await expect(page.locator('#inspect-nearest')).toContainText(/\.png.*rms difference \d+\.\d grey levels/);
  await expect(page.locator('#inspect-nearest-image')).toBeVisible();

  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(image).toBeFocused();
  expect(errors).toEqual([]);
});

test('images open from the keyboard: Tab reaches the grids, arrows move, Enter and Space open, focus returns', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=4');
  await step(page);
  await expect(tile(page, 1, 'synthesized', 0)).toHaveAttribute('aria-label', ENERGY);
  // Tab from the controls until an image of the grids has the focus (one tab stop for them all).
  await page.locator('#step').focus();
  let reached = false;
  for (let i = 0; i < 80 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement instanceof HTMLCanvasElement && !!document.activeElement.closest('#grids'));
  }
  expect(reached).toBe(true);
  await expect(tile(page, 0, 'observed', 0)).toBeFocused();
  // Down twice: the 1×1 synthesized row, then the 4×4 observed row; right: the next image.
  await page.keyboard.press('ArrowDown');
  await expect(tile(page, 0, 'synthesized', 0)).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  const image = tile(page, 1, 'synthesized', 1);
  await expect(image).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#inspect')).toBeVisible();
  await expect(page.locator('#inspect-title')).toHaveText('Synthesized image 2 at 4×4');
  await expect(page.locator('#inspect-energy')).toContainText(/f\(I\) = −?\d/);
  await expect(page.locator('#inspect-close')).toBeFocused();
  await page.keyboard.press('Enter'); // the Close button
  await expect(page.locator('#inspect')).toBeHidden();
  await expect(image).toBeFocused();
  // The 1×1 grid has no net: the dialog says so. Space opens it and does not start training.
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  await expect(tile(page, 0, 'synthesized', 1)).toBeFocused();
  await page.keyboard.press(' ');
  await expect(page.locator('#inspect')).toBeVisible();
  await expect(page.locator('#inspect-energy')).toContainText('the 1×1 grid has no net');
  await expect(page.locator('body')).not.toHaveAttribute('data-playing', 'true');
  await page.keyboard.press('Escape');
  await expect(page.locator('#inspect')).toBeHidden();
  await expect(tile(page, 0, 'synthesized', 1)).toBeFocused();
});

test('columns: after a multi-grid step, synthesized image i started from observed image i’s colour', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=6');
  // Before any chain, the observed rows show the first images of the page.
  await expect.poll(async () => (await firstPixels(page, 0, 'observed')).filter(Boolean).length).toBe(8);
  await step(page);
  const observed = await firstPixels(page, 0, 'observed');
  const synthesized = await firstPixels(page, 0, 'synthesized');
  expect(observed.filter(Boolean).length).toBe(8);
  // The batch is a real one: not all one colour.
  expect(new Set(observed.map((p) => p!.join())).size).toBeGreaterThan(1);
  for (let i = 0; i < 8; i++) expect(synthesized[i], `column ${i + 1}`).toEqual(observed[i]);
  await expect(page.locator('#grids .grid-note')).toContainText('observed image i above it');
  // Again after another step (a new batch), and for an observed image's own dialog.
  await step(page);
  const again = await firstPixels(page, 0, 'observed');
  expect(await firstPixels(page, 0, 'synthesized')).toEqual(again);
  await tile(page, 2, 'observed', 4).click();
  await expect(page.locator('#inspect-chain')).toContainText('Its colour started chain 5');
  await page.keyboard.press('Escape');
});

test('columns: a sample starts from the observed images above it; without any, the rows say why', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=7');
  await sample(page);
  const observed = await firstPixels(page, 0, 'observed');
  expect(observed.filter(Boolean).length).toBe(8);
  expect(await firstPixels(page, 0, 'synthesized')).toEqual(observed);
  await expect(page.locator('#grids .grid-note')).toContainText('Sampled: each column is one chain');

  await page.click('#clear-images');
  await expect(page.locator('#image-count')).toHaveText('0 observed images');
  await sample(page);
  // No observed images shown (not an unrelated batch): every observed row says why instead.
  expect((await firstPixels(page, 0, 'observed')).filter(Boolean)).toEqual([]);
  const notes = page.locator('#grids .row[data-which=observed] .row-note');
  await expect(notes).toHaveCount(3);
  for (const note of await notes.all()) {
    await expect(note).toBeVisible();
    await expect(note).toHaveText(/start from the colours of the model’s training images/);
  }
  await expect(page.locator('#grids .grid-note')).toContainText('which are not in this page');
  // A synthesized image has no training image here to be compared with.
  await tile(page, 2, 'synthesized', 0).click();
  await expect(page.locator('#inspect-nearest')).toContainText('no training images in this page to compare with');
  await expect(page.locator('#inspect-energy')).toContainText('f(I) = ');
  await page.keyboard.press('Escape');
});

test('columns: persistent CD says its chains do not start from the observed images above them', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=8&method=pcd');
  await step(page);
  await expect(page.locator('#grids .grid-note')).toContainText('Persistent CD');
  await expect(page.locator('#grids .grid-note')).toContainText('did not start from the observed image above it');
  await tile(page, 2, 'synthesized', 0).click();
  await expect(page.locator('#inspect-start')).toContainText('continues the chain of the previous iteration');
  await page.keyboard.press('Escape');
});

test('under batch normalisation (the pretrained small model) an energy is said to be with its batch', async ({ page }) => {
  await openPage(page);
  await sample(page);
  const image = tile(page, 3, 'synthesized', 0);
  await expect(image).toHaveAttribute('aria-label', new RegExp(`^synthesized image 1 at 64×64, ${ENERGY.source} \\(with its batch\\)$`), { timeout: 120_000 });
  await image.click();
  await expect(page.locator('#inspect-energy')).toContainText('with its batch');
  await expect(page.locator('#inspect-nearest')).toContainText('grey levels');
  expect(await firstPixels(page, 0, 'synthesized')).toEqual(await firstPixels(page, 0, 'observed'));
  await page.keyboard.press('Escape');
});

test('slow motion: an image opened large replays its chain one Langevin step at a time, with its energy rising', async ({ page }) => {
  await openPage(page, '?backend=cpu&steps=12');
  await page.check('#slow');
  await sample(page);
  // The pretrained small model, grid 16: the start (the 4×4 result up-sampled), a frame after
  // every one of the 12 steps but the last, and the result.
  await tile(page, 2, 'synthesized', 0).click();
  const dialog = page.locator('dialog#inspect');
  await expect(dialog).toBeVisible();
  await expect(page.locator('#inspect-step')).toHaveAttribute('max', '12');
  const trace = page.locator('#inspect-trace');
  await expect(trace).toHaveAttribute('data-points', /^1[12]$/);
  await expect(page.locator('#inspect-frame')).toContainText('f = ');
  await page.locator('#inspect-step').fill('1');
  await expect(page.locator('#inspect-frame')).toContainText(/after Langevin step 1 of 12 · f = /);
  const [first, last] = [Number(await trace.getAttribute('data-first')), Number(await trace.getAttribute('data-last'))];
  console.log(`slow motion, small grid 16, image 1: f from ${first.toFixed(1)} (step 1) to ${last.toFixed(1)} (step 12)`);
  // Langevin dynamics climbs f (p ∝ exp f): the chain ends higher than its first step.
  expect(last).toBeGreaterThan(first);
  await page.keyboard.press('Escape');
});
