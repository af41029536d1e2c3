import { expect, type Page } from '@playwright/test';

/** The guided tour's localStorage key (www/tour.ts). */
export const TOUR_KEY = 'multigrid-ebm.tour';

/** Open the page from now on as a returning visitor who has dismissed the guided tour, so that
 *  the tour card neither shows nor takes the focus. Call before `page.goto`. */
export async function skipTour(page: Page) {
  await page.addInitScript((key) => {
    try {
      localStorage.setItem(key, 'done');
    } catch {
      // no storage: the page then shows the tour
    }
  }, TOUR_KEY);
}

/** Open the page and wait until the model is up and the bundled images are loaded. The guided
 *  tour is dismissed first unless `tour` is true (a first visit). */
export async function openPage(page: Page, query = '', { tour = false } = {}) {
  if (!tour) await skipTour(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(query);
  await page.waitForSelector('body[data-ready=true]');
  await expect(page.locator('#image-count')).toHaveText(/^[1-9]\d* observed images?/);
  return errors;
}

export const iteration = (page: Page) => page.evaluate(() => Number(document.body.dataset.iteration));

/** A fingerprint of every synthesized canvas (with how many are painted), to tell when they change. */
export function synthesizedPixels(page: Page, root = '#grids') {
  return page.evaluate((root) => {
    const rows = Array.from(document.querySelectorAll(`${root} .grid-block`)).map((block) => {
      const canvases = Array.from(block.querySelectorAll('.row:nth-of-type(2) canvas')) as HTMLCanvasElement[];
      const painted = canvases.filter((c) => !c.classList.contains('empty'));
      const data = painted.map((c) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data).join(','));
      return { painted: painted.length, data: data.join('|') };
    });
    return rows;
  }, root);
}

/** Whether the first painted canvas holds an opaque image (a blank canvas is transparent). */
export function nonBlank(pixels: string): boolean {
  const values = (pixels.split('|')[0] ?? '').split(',').map(Number);
  if (values.length < 4) return false;
  for (let i = 3; i < values.length; i += 4) if (values[i] !== 255) return false;
  return true;
}
