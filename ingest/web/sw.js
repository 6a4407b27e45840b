// The form's service worker: keeps the form's own files so it opens without a signal.
// Never caches the API (/v1/...): reports live in the page's IndexedDB outbox, not here.
'use strict';
const CACHE = 'votestream-form-v1';
const SHELL = ['/', '/app.js', '/app.css', '/manifest.webmanifest', '/icon-192.png'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((ks) => Promise.all(ks.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Network first with a short wait, then the cached copy: a fixed form reaches phones with a
// signal, and a phone without one still opens the form. Navigations (the link carries the
// token in its #fragment, which never reaches here) are answered with the cached "/".
self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/v1/')) return;
  const key = req.mode === 'navigate' ? '/' : url.pathname;
  if (!SHELL.includes(key)) return;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await Promise.race([
        fetch(req.mode === 'navigate' ? '/' : req),
        new Promise((_, rej) => setTimeout(() => rej(new Error('slow')), 4000)),
      ]);
      if (res.ok) cache.put(key, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(key);
      if (hit) return hit;
      throw err;
    }
  })());
});
