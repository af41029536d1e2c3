// A plain static server for the built page: serves dist/ under a sub-path (default /), with the
// right MIME types (application/wasm matters), and prints the URL. Used by `npm start` and by the
// end-to-end tests, which serve the page from /multigrid-ebm/ as a static host would. It sends the
// cross-origin isolation headers (COOP/COEP) that wasm threads need; --no-isolation leaves them
// out, as a static host that cannot set headers would (the service worker then adds them).
//   node scripts/serve.mjs [--dir dist] [--base /multigrid-ebm/] [--port 4173] [--host 127.0.0.1] [--no-isolation]
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'dist' },
    base: { type: 'string', default: '/' },
    port: { type: 'string', default: process.env.PORT ?? '4173' },
    host: { type: 'string', default: '127.0.0.1' },
    'no-isolation': { type: 'boolean', default: false },
  },
});
const isolation = values['no-isolation']
  ? {}
  : { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
const root = resolve(values.dir);
const base = `/${values.base.replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml',
  '.bpk': 'application/octet-stream', '.ico': 'image/x-icon',
};

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (path === base.slice(0, -1)) {
    res.writeHead(301, { Location: base });
    return res.end();
  }
  if (!path.startsWith(base)) {
    res.writeHead(404);
    return res.end(`not found: the page is at ${base}`);
  }
  let file = normalize(join(root, path.slice(base.length)));
  if (!file.startsWith(root)) {
    res.writeHead(403);
    return res.end();
  }
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    const size = statSync(file).size;
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, ...isolation });
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404);
    res.end('not found');
  }
});

server.listen(Number(values.port), values.host, () => {
  console.log(`multigrid-ebm demo: http://${values.host === '0.0.0.0' ? 'localhost' : values.host}:${values.port}${base}`);
});
