/* What the scanner keeps on the phone in IndexedDB:
 *   queue  – every scan not yet answered by the server, by client_scan_id (kept across
 *            reloads; removed only after the server answered it);
 *   seen   – tickets this phone saw admitted, so a second offline scan is amber;
 *   failed – scans the server refused to take (e.g. the pairing expired), kept for the
 *            organizers rather than thrown away.
 * If IndexedDB cannot be opened (some private modes) the same API works in memory. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const DB_NAME = "tomoni-scan";
  const DB_VERSION = 1;
  let dbPromise = null;

  function open() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise((resolve) => {
      let req;
      try {
        req = indexedDB.open(DB_NAME, DB_VERSION);
      } catch (e) {
        resolve(null);
        return;
      }
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("queue")) {
          db.createObjectStore("queue", { keyPath: "client_scan_id" }).createIndex("seq", "seq");
        }
        if (!db.objectStoreNames.contains("seen")) {
          db.createObjectStore("seen", { keyPath: "ticket_id" });
        }
        if (!db.objectStoreNames.contains("failed")) {
          db.createObjectStore("failed", { keyPath: "client_scan_id" });
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    });
    return dbPromise;
  }

  /* In-memory stand-in when IndexedDB is unavailable. */
  const memory = { queue: new Map(), seen: new Map(), failed: new Map() };
  const KEYS = { queue: "client_scan_id", seen: "ticket_id", failed: "client_scan_id" };

  function done(tx) {
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("aborted"));
    });
  }

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function put(store, value) {
    const db = await open();
    if (!db) {
      memory[store].set(value[KEYS[store]], value);
      return;
    }
    const tx = db.transaction(store, "readwrite");
    tx.objectStore(store).put(value);
    await done(tx);
  }

  async function get(store, key) {
    const db = await open();
    if (!db) return memory[store].get(key);
    return request(db.transaction(store).objectStore(store).get(key));
  }

  async function removeMany(store, keys) {
    if (!keys.length) return;
    const db = await open();
    if (!db) {
      keys.forEach((k) => memory[store].delete(k));
      return;
    }
    const tx = db.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    keys.forEach((k) => os.delete(k));
    await done(tx);
  }

  async function count(store) {
    const db = await open();
    if (!db) return memory[store].size;
    return request(db.transaction(store).objectStore(store).count());
  }

  /* The oldest queued scans first, at most `limit`. */
  async function oldest(limit) {
    const db = await open();
    if (!db) {
      return Array.from(memory.queue.values())
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit);
    }
    return new Promise((resolve, reject) => {
      const out = [];
      const req = db.transaction("queue").objectStore("queue").index("seq").openCursor();
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor || out.length >= limit) {
          resolve(out);
          return;
        }
        out.push(cursor.value);
        cursor.continue();
      };
      req.onerror = () => reject(req.error);
    });
  }

  /* Move scans the server will never take to "failed", in one transaction. */
  async function fail(scans, why) {
    const db = await open();
    const at = new Date().toISOString();
    if (!db) {
      scans.forEach((s) => {
        memory.queue.delete(s.client_scan_id);
        memory.failed.set(s.client_scan_id, Object.assign({}, s, { why, failed_at: at }));
      });
      return;
    }
    const tx = db.transaction(["queue", "failed"], "readwrite");
    scans.forEach((s) => {
      tx.objectStore("failed").put(Object.assign({}, s, { why, failed_at: at }));
      tx.objectStore("queue").delete(s.client_scan_id);
    });
    await done(tx);
  }

  let seq = 0;
  T.store = {
    open,
    /* A new scan waits here until the server has answered it. */
    enqueue(scan) {
      seq += 1;
      return put("queue", Object.assign({ seq: Date.now() * 1000 + (seq % 1000) }, scan));
    },
    update: (scan) => put("queue", scan),
    answered: (ids) => removeMany("queue", ids),
    waiting: () => count("queue"),
    oldest,
    fail,
    failedCount: () => count("failed"),
    seen: (ticketId) => get("seen", ticketId),
    remember: (record) => put("seen", record),
  };
})();
