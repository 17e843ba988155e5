/* Tomoni scanner: what every page shares. Settings kept on the phone (localStorage),
 * a fetch with a time limit, and the service worker that lets the app load offline.
 * Each script adds to window.Tomoni; no build step, no framework. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const PREFIX = "tomoni.scan.";

  /* Small JSON values kept on the phone. Never throws: a full or disabled storage
   * (private browsing) only means the value is not kept. */
  T.settings = {
    get(name, fallback = null) {
      try {
        const raw = localStorage.getItem(PREFIX + name);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set(name, value) {
      try {
        localStorage.setItem(PREFIX + name, JSON.stringify(value));
        return true;
      } catch (e) {
        return false;
      }
    },
    remove(name) {
      try {
        localStorage.removeItem(PREFIX + name);
      } catch (e) {
        /* nothing to do */
      }
    },
  };

  /* The paired device: {token, role, event, place, expires_at, event_title?}. */
  T.device = () => T.settings.get("device");

  /* fetch() with a time limit. Resolves to the Response (any status) or rejects on a
   * network error or timeout, so callers can tell "the server said no" from "no answer". */
  T.fetchWithin = function (url, options, ms) {
    const ctrl = typeof AbortController === "function" ? new AbortController() : null;
    const opts = Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {});
    if (ctrl) opts.signal = ctrl.signal;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (ctrl) ctrl.abort();
        reject(new Error("timeout"));
      }, ms);
      fetch(url, opts).then(
        (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        }
      );
    });
  };

  /* A JSON request with the device's token. Resolves {status, body}; rejects when there
   * was no answer at all. */
  T.api = async function (method, url, body, token, ms) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    const r = await T.fetchWithin(
      url,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      ms || 10000
    );
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      data = null;
    }
    return { status: r.status, body: data };
  };

  /* A random UUID made on the phone (randomUUID needs a secure context and a recent
   * browser; getRandomValues is everywhere). */
  T.uuid = function () {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };

  T.$ = (id) => document.getElementById(id);

  /* The offline worker: registered on every page, so the first visit (the pairing link)
   * already keeps the app for later. */
  T.registerWorker = function () {
    const url = document.body.dataset.sw;
    if (!("serviceWorker" in navigator) || !url) return Promise.resolve(null);
    return navigator.serviceWorker.register(url, { scope: "/scan/" }).catch(() => null);
  };

  document.addEventListener("DOMContentLoaded", () => {
    T.registerWorker();
  });
})();
