// The Remote GPU: the page trains and samples on the device of a `multigrid serve` on loopback
// (the CPU backend there, through the relay it runs: `--relays here`), is refused with a wrong
// token, and falls back to this browser when the server is killed mid-run. Opened from the server
// itself (`--page`), it finds the server named.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { expect, type Page, test } from '@playwright/test';
import { iteration, nonBlank, openPage, synthesizedPixels } from './helpers';

const BINARY = 'target/release/multigrid';
const TOKEN = 'e2e-remote-token';

interface Server {
  process: ChildProcess;
  address: string;
  log: string[];
}

/** `multigrid serve` on loopback (a free port), once it printed its address. */
async function serve(...more: string[]): Promise<Server> {
  const args = ['serve', '--device', 'cpu', '--transport', 'iroh', '--relays', 'here', '--port', '0', '--token', TOKEN, ...more];
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => log.push(line));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`multigrid serve exited (${code}): ${log.join('\n')}`)));
  });
  const address = first.replace(/^multigrid serve: listening on /, '');
  expect(address).toMatch(/^iroh:\w+\?relay=http:\/\/127\.0\.0\.1:\d+/);
  return { process: child, address, log };
}

async function connect(page: Page, address: string, token: string) {
  await page.locator('#more').evaluate((d) => ((d as HTMLDetailsElement).open = true));
  await page.fill('#remote-address', address);
  await page.fill('#remote-token', token);
  await page.click('#remote-connect');
}

let server: Server | null = null;
test.afterEach(() => {
  server?.process.kill('SIGKILL');
  server = null;
});

test.beforeEach(() => {
  test.skip(!existsSync(BINARY), `SKIPPED: ${BINARY} is not built (cargo build --release)`);
});

test('the page trains 5 iterations and samples on a remote device, and the token stays out of the address', async ({ page }) => {
  server = await serve();
  const errors = await openPage(page, '?preset=tiny&seed=3&backend=cpu');
  const before = await iteration(page);
  await connect(page, server.address, TOKEN);
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'remote', { timeout: 120_000 });
  await expect(page.locator('#backend')).toContainText(`Remote · device 0 of ${server.address}`);
  await expect(page.locator('#messages')).toContainText(`the model moved to the remote device at ${server.address} at iteration ${before}`);
  expect(server.log.join('\n')).toContain('session opened');
  // Its measured speed beside this browser's.
  await expect(page.locator('#backend')).toContainText(/ms per Langevin step/, { timeout: 120_000 });
  await page.click('#train');
  await expect.poll(() => iteration(page), { timeout: 180_000 }).toBeGreaterThanOrEqual(before + 5);
  await page.click('#train');
  await expect(page.locator('#train')).toHaveAttribute('aria-pressed', 'false');
  // New samples, drawn by the remote device (the worker answers in order: the last iteration is in).
  const shown = (await synthesizedPixels(page)).at(-1)!.data;
  await page.click('#sample');
  await expect.poll(async () => (await synthesizedPixels(page)).at(-1)!.data, { timeout: 120_000 }).not.toBe(shown);
  expect(nonBlank((await synthesizedPixels(page)).at(-1)!.data)).toBe(true);
  expect(page.url()).not.toContain(TOKEN);
  // Back in this browser, from the same iteration.
  const now = await iteration(page);
  await page.click('#remote-disconnect');
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'cpu', { timeout: 120_000 });
  expect(await iteration(page)).toBe(now);
  expect(errors).toEqual([]);
});

test('a wrong token is refused: the model stays in this browser, and the server logs it', async ({ page }) => {
  server = await serve();
  await openPage(page, '?preset=tiny&seed=3&backend=cpu');
  await connect(page, server.address, 'not-the-token');
  await expect(page.locator('#messages')).toContainText('The remote device could not be used', { timeout: 120_000 });
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'cpu', { timeout: 120_000 });
  await expect.poll(() => server!.log.join('\n')).toContain('refused');
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
});

test('killing the server mid-run leaves the page training in this browser from its last iteration', async ({ page }) => {
  server = await serve();
  await openPage(page, '?preset=tiny&seed=3&backend=cpu');
  await connect(page, server.address, TOKEN);
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'remote', { timeout: 120_000 });
  await page.click('#train');
  await expect.poll(() => iteration(page), { timeout: 180_000 }).toBeGreaterThanOrEqual(2);
  server.process.kill('SIGKILL');
  const killedAt = await iteration(page);
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'cpu', { timeout: 120_000 });
  await expect(page.locator('#messages')).toContainText('continuing on the CPU backend from iteration');
  // Nothing finished was lost, and training goes on without another press.
  expect(await iteration(page)).toBeGreaterThanOrEqual(killedAt - 1);
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(killedAt + 2);
  await page.click('#train');
});

test('the page that `multigrid serve --page` serves names that server, and trains on it from the same origin', async ({ page }) => {
  test.skip(!existsSync('dist/index.html'), 'SKIPPED: dist/ is not built (npm run build)');
  server = await serve('--page', 'dist');
  const [id, relay] = server.address.split('?relay=');
  const origin = new URL(relay).origin;
  const errors = await openPage(page, `${origin}/?preset=tiny&seed=3&backend=cpu`);
  // Isolated by the server's own headers (threads), and the form already holds the address.
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await expect(page.locator('#remote-address')).toHaveValue(`${id}?relay=${origin}`);
  await expect(page.locator('#messages')).toContainText(`This page is served by multigrid serve (${id})`);
  await page.fill('#remote-token', TOKEN);
  await page.click('#remote-connect');
  await expect(page.locator('#backend')).toHaveAttribute('data-backend', 'remote', { timeout: 120_000 });
  await page.click('#step');
  await expect.poll(() => iteration(page), { timeout: 120_000 }).toBe(1);
  expect(server.log.join('\n')).toContain('session opened');
  expect(errors).toEqual([]);
});
