import { expect, test } from '@playwright/test';
import { openPage } from './helpers';

test('the Benchmark panel times the CPU backend at the preset and the paper nets, and offers the figures as JSON', async ({ page }) => {
  await openPage(page, '?preset=tiny&backend=cpu');
  await expect(page.locator('#bench-json')).toBeDisabled();
  await page.click('#bench-run');
  await expect(page.locator('#benchmark')).toHaveAttribute('data-measured', '1', { timeout: 180_000 });
  const cpu = page.locator('#bench-table tbody tr[data-backend=cpu]');
  await expect(cpu).toHaveCount(2);
  await expect(cpu.nth(0).locator('td').nth(1)).toHaveText('tiny grid 16, batch 8');
  await expect(cpu.nth(1).locator('td').nth(1)).toHaveText('paper grid 64, batch 16');
  for (const r of [0, 1]) {
    await expect(cpu.nth(r).locator('td').first()).toHaveText(/^CPU \(wasm, \d+ threads?\)$/);
    for (const i of [2, 3, 4]) expect(Number(await cpu.nth(r).locator('td').nth(i).textContent()), `row ${r} column ${i}`).toBeGreaterThan(0);
  }
  // The paper nets' Langevin step costs more than the tiny preset's.
  const step = async (r: number) => Number(await cpu.nth(r).locator('td').nth(3).textContent());
  expect(await step(1)).toBeGreaterThan(await step(0));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#bench-json')]);
  const report = JSON.parse(await (await import('node:fs/promises')).readFile((await download.path())!, 'utf8'));
  expect(report.hardwareConcurrency).toBeGreaterThan(0);
  const measured = report.backends.find((b: { backend: string }) => b.backend === 'cpu');
  expect(measured.rows).toHaveLength(2);
  expect(measured.rows[1].langevin_step_ms).toBeGreaterThan(0);
});

test('a setting outside the library limits is refused by the library, named, and the control goes back', async ({ page }) => {
  await openPage(page, '?preset=tiny&backend=cpu');
  const before = await page.inputValue('#steps');
  await page.fill('#steps', '20000');
  await page.press('#steps', 'Enter');
  await page.locator('#steps').blur();
  await expect(page.locator('#messages .error')).toContainText('T ≤ 10000');
  await expect(page.locator('#steps')).toHaveValue(before);
  expect(new URL(page.url()).searchParams.get('steps')).toBe(before);
  // A value within the limits (above the page's old cap of 1000) is accepted.
  await page.fill('#steps', '1200');
  await page.locator('#steps').blur();
  await expect.poll(() => new URL(page.url()).searchParams.get('steps')).toBe('1200');
});
