// Offline support: after the first visit the page's wasm, the bundled images and the pretrained
// weights come from the cache (refreshed in the background whenever the network answers); the page
// itself comes from the network first, and from the cache offline.
// Cross-origin isolation: every response gets the COOP/COEP headers that wasm threads need, so on
// a static host that cannot set headers (GitHub Pages) the page is isolated from its second load.
const CACHE = 'multigrid-ebm-v2';

function isolated(response) {
  if (!response || response.status === 0 || response.type === 'opaque' || response.type === 'opaqueredirect') return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) =>
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  ),
);

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
      const fresh = fetch(request)
        .then((response) => {
          if (response.ok) cache.put(request, response.clone());
          return response;
        })
        .catch(() => cached);
      // The page itself from the network while there is one (a new build, or the address of the
      // `multigrid serve` that serves it), from the cache offline; everything else from the cache.
      return isolated(await (request.mode === 'navigate' ? fresh : (cached ?? fresh)));
    }),
  );
});
