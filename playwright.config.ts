import { defineConfig } from '@playwright/test';

// The built page (npm run build) served from a sub-path by a plain static server, in Debian's
// Chromium (no browser download). The `cpu` project has no WebGPU adapter (the CPU fallback);
// the `webgpu` project enables Chromium's software WebGPU (SwiftShader).
const base = '/multigrid-ebm/';
const port = Number(process.env.E2E_PORT ?? 4179);
const chromiumArgs = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export default defineConfig({
  testDir: 'e2e',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['./e2e/skips.reporter.ts']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}${base}`,
    viewport: { width: 1280, height: 1000 },
    acceptDownloads: true,
    screenshot: 'only-on-failure',
  },
  // The page's own server (with the COOP/COEP headers threads need), and the same dist/ from a
  // server that sends no such headers, as a plain static host would (e2e/threads.spec.ts).
  webServer: [
    {
      command: `node scripts/serve.mjs --dir dist --base ${base} --port ${port}`,
      url: `http://127.0.0.1:${port}${base}`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      command: `node scripts/serve.mjs --dir dist --base ${base} --port ${port + 1} --no-isolation`,
      url: `http://127.0.0.1:${port + 1}${base}`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
  ],
  projects: [
    {
      name: 'cpu',
      // The Firefox suite (e2e/firefox/) runs under node --test, with puppeteer-core.
      testIgnore: [/webgpu\.spec/, /firefox\//],
      use: { launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs } },
    },
    {
      name: 'webgpu',
      testMatch: /webgpu\.spec/,
      use: {
        launchOptions: {
          executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
          args: [...chromiumArgs, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
        },
      },
    },
  ],
});
