import fs from 'node:fs';
import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/** Every file under the given folders (relative paths). */
function filesUnder(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (!entry.name.startsWith('.')) out.push(p.split(path.sep).join('/'));
    }
  };
  dirs.forEach(walk);
  return out.sort();
}

/** Serve the bundled dataset and pretrained weights in development and copy them into dist/,
 *  keeping one copy of each in the repository (data/, weights/) for the CLI and the page.
 *  `published` maps each folder to the endings of the files the page needs from it (the datasets'
 *  packs, not their single images; so training logs, mosaics and READMEs stay out of the site). */
function bundledAssets(published: Record<string, string[]>): Plugin {
  const types: Record<string, string> = { '.png': 'image/png', '.json': 'application/json', '.bpk': 'application/octet-stream' };
  const isPublished = (file: string) =>
    Object.entries(published).some(([dir, endings]) => file.startsWith(`${dir}/`) && endings.some((e) => file.endsWith(e)));
  return {
    name: 'multigrid-bundled-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const rel = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/+/, '');
        if (isPublished(rel) && fs.existsSync(rel) && fs.statSync(rel).isFile()) {
          res.setHeader('Content-Type', types[path.extname(rel)] ?? 'application/octet-stream');
          fs.createReadStream(rel).pipe(res);
          return;
        }
        next();
      });
    },
    generateBundle() {
      for (const file of filesUnder(Object.keys(published)).filter(isPublished)) {
        this.emitFile({ type: 'asset', fileName: file, source: fs.readFileSync(file) });
      }
    },
  };
}

/** Cross-origin isolation, which the threaded wasm build needs (scripts/serve.mjs sends the same). */
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // Relative URLs: the built page works from any sub-path (e.g. /multigrid-ebm/) of any static host.
  base: './',
  publicDir: 'www/public',
  plugins: [bundledAssets({ 'data/textures': ['/packs.json', '.pack.png'], 'data/digits': ['/packs.json', '.pack.png'], weights: ['.bpk'] })],
  worker: { format: 'es' },
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 30000, assetsInlineLimit: 0 },
  server: { port: 5173, headers: isolation },
  preview: { port: 4173, headers: isolation },
});
