import { type Page, expect, test } from '@playwright/test';
import { iteration, openPage } from './helpers';

const SETTINGS = { preset: 'small', method: 'multigrid', steps: 30, delta: 0.3, lr: 0.3, batch: 8, noise: true, seed: 1 };

type Record = { weights: 'good' | 'corrupt'; iteration: number } | { other: unknown };

/** Write records into the page's autosave store directly, as another version or a damaged disk
 *  might: saves of the bundled weights (one byte flipped when corrupt), or any other value. */
async function store(page: Page, records: { [slot: string]: Record }) {
  await page.evaluate(
    async ({ records, settings }) => {
      const good = await (await fetch('weights/small.bpk')).arrayBuffer();
      const values = Object.fromEntries(
        Object.entries(records).map(([slot, r]) => {
          if ('other' in r) return [slot, r.other];
          const bytes = good.slice(0);
          if (r.weights === 'corrupt') new Uint8Array(bytes)[bytes.byteLength >> 1] ^= 1;
          return [slot, { bytes, iteration: r.iteration, settings, savedAt: Date.now() }];
        }),
      );
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open('multigrid-ebm', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('autosave');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      await new Promise((resolve, reject) => {
        const tx = db.transaction('autosave', 'readwrite');
        for (const [key, value] of Object.entries(values)) tx.objectStore('autosave').put(value, key);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { records, settings: SETTINGS },
  );
}

test('a corrupt autosave is refused by name, the save before it is offered, and the pretrained model loads', async ({ page }) => {
  await openPage(page);
  await store(page, { latest: { weights: 'corrupt', iteration: 42 }, previous: { weights: 'good', iteration: 7 } });
  await page.reload();
  await page.waitForSelector('body[data-first-sample]');
  await expect(page.locator('#messages')).toContainText('iteration 42 cannot be used');
  await expect(page.locator('#messages')).toContainText('checksum');
  await expect(page.locator('#resume-text')).toContainText('iteration 7');
});

test('a foreign autosave record is ignored with a message', async ({ page }) => {
  await openPage(page);
  await store(page, { latest: { other: { hello: 'not a save' } } });
  await page.reload();
  await openPage(page);
  await expect(page.locator('#messages')).toContainText('not one this page wrote');
  await expect(page.locator('#resume')).toBeHidden();
});

test('without IndexedDB the page says autosave is off and training goes on', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }));
  await openPage(page, '?preset=tiny&seed=3');
  await expect(page.locator('#messages')).toContainText('Autosave is off: this browser gives the page no IndexedDB');
  await page.click('#train');
  await expect.poll(() => iteration(page)).toBeGreaterThanOrEqual(3);
  await page.click('#train');
  await expect(page.locator('body')).toHaveAttribute('data-storage', 'off');
});

test('a full storage is a message, training goes on, and the previous save stays readable', async ({ page }) => {
  await openPage(page, '?preset=tiny&seed=5');
  await page.click('#step');
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBe(2);
  await page.click('#train');
  await page.click('#train'); // pausing saves
  await expect.poll(async () => Number(await page.locator('body').getAttribute('data-saved-iteration'))).toBeGreaterThanOrEqual(2);
  const saved = Number(await page.locator('body').getAttribute('data-saved-iteration'));
  // From now on every write fails as a full disk's would, in the middle of the save's transaction.
  await page.evaluate(() => {
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (key === 'latest') throw new DOMException('the disk is full', 'QuotaExceededError');
      return put.call(this, value, key);
    };
  });
  await page.click('#train');
  await expect.poll(() => iteration(page)).toBeGreaterThan(saved + 1);
  await page.click('#train');
  await expect(page.locator('#messages')).toContainText('storage for this page is full');
  await expect(page.locator('body')).toHaveAttribute('data-storage', 'off');
  await page.click('#step');
  await expect.poll(() => iteration(page)).toBeGreaterThan(saved + 2);
  await page.reload();
  await openPage(page, '?preset=tiny&seed=5');
  await expect(page.locator('#resume-text')).toContainText(`iteration ${saved}`);
});
