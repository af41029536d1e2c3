import AxeBuilder from '@axe-core/playwright';
import { type Page, expect, test } from '@playwright/test';
import { nonBlank, openPage, synthesizedPixels } from './helpers';

// axe-core on the loaded page (model ready, pretrained samples drawn), wide and phone-narrow:
// no violation of impact "serious" or "critical"; the others are printed. At 390 px the document
// does not scroll sideways.

async function loaded(page: Page, width: number, query = '') {
  await page.setViewportSize({ width, height: 900 });
  await openPage(page, query);
  await page.waitForSelector('body[data-first-sample]');
  await expect.poll(async () => (await synthesizedPixels(page)).every((g) => g.painted > 0 && nonBlank(g.data))).toBe(true);
}

async function audit(page: Page, what: string) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const describe = (v: (typeof violations)[number]) =>
    `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes
      .slice(0, 3)
      .map((n) => n.target.join(' '))
      .join(', ')})`;
  const minor = violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical');
  if (minor.length > 0) console.log(`axe, ${what}, minor:\n  ${minor.map(describe).join('\n  ')}`);
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map(describe)).toEqual([]);
}

test('axe finds nothing serious at 1280 px, with and without the tour open', async ({ page }) => {
  await loaded(page, 1280);
  await audit(page, '1280 px');
  await page.getByRole('button', { name: 'Tour' }).click();
  await expect(page.locator('#tour')).toBeVisible();
  await audit(page, '1280 px, tour open');
});

test('axe finds nothing serious at 390 px, and nothing is cut off', async ({ page }) => {
  await loaded(page, 390);
  await audit(page, '390 px');
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  // Every control is inside the page's width (wrapped, not pushed off the side).
  const outside = await page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('button, input:not([type=file]), select, label.button, canvas, figure'))
      .filter((e) => e.offsetParent !== null)
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.left < -1 || r.right > document.documentElement.clientWidth + 1;
      })
      .map((e) => e.id || e.className || e.tagName),
  );
  expect(outside).toEqual([]);
  await page.getByRole('button', { name: 'Tour' }).click();
  await expect(page.locator('#tour')).toBeInViewport({ ratio: 1 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});

test('every control has a name and can be reached from the keyboard', async ({ page }) => {
  await loaded(page, 1280);
  const unnamed = await page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('button, input, select, [tabindex]'))
      .filter((e) => !e.closest('[hidden]'))
      .filter((e) => {
        const label = e.getAttribute('aria-label') ?? '';
        const labelled = (e as HTMLInputElement).labels?.length ?? 0;
        const text = (e.textContent ?? '').trim();
        return !label && labelled === 0 && !text && !e.getAttribute('aria-labelledby') && !e.title;
      })
      .map((e) => e.id || e.outerHTML.slice(0, 60)),
  );
  expect(unnamed).toEqual([]);
  // Tab from the top of the page reaches the main controls, and each visibly takes the focus.
  const wanted = ['tour-start', 'train', 'step', 'sample', 'reset', 'preset', 'steps', 'files', 'upload', 'pretrained', 'inpaint-run'];
  const reached = new Set<string>();
  await page.locator('h1').click();
  for (let i = 0; i < 60 && wanted.some((id) => !reached.has(id)); i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => document.activeElement?.id ?? '');
    if (id) reached.add(id);
  }
  expect(wanted.filter((id) => !reached.has(id))).toEqual([]);
  // A file input is reached once, not twice (its label is not a second tab stop).
  await expect(page.locator('label.button[tabindex]')).toHaveCount(0);
});
