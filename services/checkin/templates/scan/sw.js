/* Tomoni scanner: the service worker, so the app loads with no network once visited.
 * Served at /scan/sw.js (scope /scan/). The server puts one line before this file:
 *   self.TOMONI_SW = {version, pages: [...], assets: [...], optional: [...]}
 * naming the pages and the versioned static files (…?v=<hash>) to keep.
 *
 * Pages: the network first (fresh app when online), the kept copy when the network fails
 * or is too slow. Static files: the kept copy first (their URLs change with their
 * content). The API (/api/…) is never touched here: scans go through the page's own
 * queue, which knows what was answered. */
"use strict";

const CONFIG = self.TOMONI_SW || { version: "dev", pages: [], assets: [], optional: [] };
const CACHE = `tomoni-scan-${CONFIG.version}`;
const PAGE_TIMEOUT_MS = 4000;

const fresh = (url) => new Request(url, { cache: "reload" });

/* Keep the app: all of the pages and files or nothing (a half-kept app would break
 * offline), then each language's strings as far as the network allows. */
self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...CONFIG.pages, ...CONFIG.assets].map(fresh));
      await Promise.all((CONFIG.optional || []).map((u) => cache.add(fresh(u)).catch(() => null)));
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith("tomoni-scan-") && n !== CACHE).map((n) => caches.delete(n))
        )
      )
      .then(() => self.clients.claim())
  );
});

/* The kept copy of a page is stored under its path alone (no ?code=…). */
function pageKey(url) {
  return new URL(url.pathname, url.origin).href;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      }
    );
  });
}

async function page(request, url) {
  const cache = await caches.open(CACHE);
  try {
    const fresh = await withTimeout(fetch(request), PAGE_TIMEOUT_MS);
    if (fresh.ok) cache.put(pageKey(url), fresh.clone());
    return fresh;
  } catch (e) {
    const kept = await cache.match(pageKey(url));
    if (kept) return kept;
    throw e;
  }
}

async function keptFirst(request) {
  const cache = await caches.open(CACHE);
  const kept = (await cache.match(request)) || (await cache.match(request, { ignoreSearch: true }));
  if (kept) return kept;
  const fresh = await fetch(request);
  if (fresh.ok) cache.put(request, fresh.clone());
  return fresh;
}

async function freshFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const fresh = await withTimeout(fetch(request), PAGE_TIMEOUT_MS);
    if (fresh.ok) cache.put(request, fresh.clone());
    return fresh;
  } catch (e) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith("/scan/")) return;
  if (url.pathname === "/scan/sw.js" || url.pathname === "/scan/event.json") return;
  if (request.mode === "navigate") {
    event.respondWith(page(request, url));
  } else if (url.pathname.startsWith("/scan/static/")) {
    event.respondWith(keptFirst(request));
  } else if (url.pathname.startsWith("/scan/i18n/")) {
    event.respondWith(freshFirst(request));
  }
});
