/* Getting scans to the server, whatever the network does.
 *
 * Every scan is written to the queue (store.js) BEFORE it is sent, and leaves the queue
 * only once the server has answered it, so a reload, a dead network or a closed tab
 * never loses one. A scan is first sent on its own (POST /api/checkin/scans), retried
 * with the SAME client_scan_id on a network error (the server answers a repeated id with
 * its first answer and changes nothing); whatever is still queued is synced in batches of
 * at most 500 (POST /api/checkin/scans/batch) when the network is back.
 *
 * A booth's stamps (kind "stamp", rally.js) wait in the same queue and go to
 * POST /api/stamprally/stamps, one by one (there is no batch for stamps; the same
 * client_scan_id again is answered with the first answer there too). */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const SCAN_URL = "/api/checkin/scans";
  const BATCH_URL = "/api/checkin/scans/batch";
  const MAX_BATCH = 500;
  const SINGLE_TIMEOUT_MS = 6000;
  const BATCH_TIMEOUT_MS = 30000;
  const RETRIES = [0, 500, 1500];
  const POLL_MS = 3000;

  const inflight = new Set();
  const hooks = { onCount() {}, onAnswer() {}, onAuth() {} };
  let running = false;
  let failures = 0;
  let retryAt = 0;
  let authBlocked = null; // the token the server refused (401/403), if any
  let authBlockedAt = 0;
  const AUTH_RETRY_MS = 30000; // a refusal may be a server that is still starting: ask again

  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const online = () => navigator.onLine !== false;

  const isStamp = (scan) => scan.kind === "stamp";
  const urlOf = (scan) => (isStamp(scan) ? T.rally.STAMP_URL : SCAN_URL);

  /* What the API takes: exactly these fields (it refuses unknown ones). */
  function body(scan) {
    if (isStamp(scan)) return T.rally.stampBody(scan);
    const b = { client_scan_id: scan.client_scan_id, qr_text: scan.qr_text, direction: scan.direction };
    if (scan.scanned_at) b.scanned_at = scan.scanned_at;
    return b;
  }

  async function refreshCount() {
    try {
      hooks.onCount(await T.store.waiting(), await T.store.failedCount());
    } catch (e) {
      /* the counter is shown again on the next change */
    }
  }

  function currentToken() {
    const d = T.device();
    return d ? d.token : null;
  }

  /* The server refused the token: for this phone's pairing the volunteer must pair again
   * (its scans wait); scans made under an older pairing can never be taken, so they are
   * kept aside in "failed" instead of blocking the queue. */
  async function refused(token, scans, status) {
    if (token && token === currentToken()) {
      authBlocked = token;
      authBlockedAt = Date.now();
      hooks.onAuth(status);
      return false;
    }
    await T.store.fail(scans, `pairing_${status}`);
    return true;
  }

  async function answered(scan, answer) {
    try {
      await T.store.answered([scan.client_scan_id]);
    } catch (e) {
      /* still queued: the batch sync sends it again and gets the same answer */
    }
    hooks.onAnswer(scan, answer);
  }

  /* A request the API refused as malformed (400/422). The only part a phone can get
   * wrong is its clock (scanned_at too far ahead): send it once without; else keep the
   * scan aside. Resolves the answer or null. */
  async function repair(scan) {
    if (scan.scanned_at && !isStamp(scan)) {
      const fixed = Object.assign({}, scan, { scanned_at: null, clock_fixed: true });
      await T.store.update(fixed);
      try {
        const r = await T.api("POST", SCAN_URL, body(fixed), fixed.token, SINGLE_TIMEOUT_MS);
        if (r.status === 200 && r.body && r.body.result) {
          await answered(fixed, r.body);
          return r.body;
        }
        if (r.status !== 400 && r.status !== 422) return null; // try again later
      } catch (e) {
        return null;
      }
    }
    await T.store.fail([scan], "refused");
    return null;
  }

  /* Send one queued scan now: {answer, gone}. `answer` is the server's, or null when
   * there was none; `gone` says the scan left the queue (answered, or kept aside). */
  async function send(scan) {
    const id = scan.client_scan_id;
    if (inflight.has(id)) return { answer: null, gone: false };
    inflight.add(id);
    try {
      for (const delay of RETRIES) {
        if (delay) await wait(delay);
        if (!online() || authBlocked === scan.token) return { answer: null, gone: false };
        let r;
        try {
          r = await T.api("POST", urlOf(scan), body(scan), scan.token, SINGLE_TIMEOUT_MS);
        } catch (e) {
          continue; // no answer: the same id again
        }
        if (r.status === 200 && r.body && r.body.result) {
          await answered(scan, r.body);
          return { answer: r.body, gone: true };
        }
        if (r.status === 401 || r.status === 403) {
          return { answer: null, gone: await refused(scan.token, [scan], r.status) };
        }
        if (r.status === 400 || r.status === 422) {
          const answer = await repair(scan);
          return { answer, gone: true };
        }
        // 413/429/5xx: wait and try again
      }
      return { answer: null, gone: false };
    } finally {
      inflight.delete(id);
      refreshCount();
    }
  }

  /* Send one queued scan now. Resolves the server's answer, or null when there was none
   * (the scan stays queued for the sync). */
  const submit = (scan) => send(scan).then((sent) => sent.answer);

  function backoff() {
    failures = Math.min(failures + 1, 6);
    retryAt = Date.now() + Math.min(30000, 1000 * 2 ** failures);
  }

  /* Sync everything queued, oldest first, in batches of one pairing's scans (a booth's
   * stamps one by one). */
  async function run() {
    if (running || !online() || Date.now() < retryAt) return;
    running = true;
    try {
      for (let round = 0; round < 100; round += 1) {
        const queued = (await T.store.oldest(MAX_BATCH * 2)).filter(
          (s) => !inflight.has(s.client_scan_id)
        );
        const token = queued.length ? queued[0].token : null;
        const stamps = queued.length > 0 && isStamp(queued[0]);
        // The oldest scans of one pairing and one kind.
        const batch = queued
          .filter((s) => s.token === token && isStamp(s) === stamps)
          .slice(0, MAX_BATCH);
        if (!batch.length) break;
        if (authBlocked && token === authBlocked) {
          if (token === currentToken()) break; // waiting for the volunteer to pair again
          await T.store.fail(batch, "pairing_ended");
          continue;
        }
        if (stamps) {
          // No batch for stamps: each on its own, oldest first; stop at the first that
          // gets no answer (the network is gone again) and try later.
          let stalled = false;
          for (const scan of batch) {
            const sent = await send(scan); // its answer goes to hooks.onAnswer
            if (!sent.gone) {
              stalled = true;
              break;
            }
          }
          if (stalled) {
            if (!authBlocked) backoff();
            break;
          }
          failures = 0;
          continue;
        }
        let r;
        try {
          r = await T.api("POST", BATCH_URL, { scans: batch.map(body) }, token, BATCH_TIMEOUT_MS);
        } catch (e) {
          backoff();
          break;
        }
        if (r.status === 200 && r.body && Array.isArray(r.body.results)) {
          failures = 0;
          const done = [];
          r.body.results.forEach((answer, i) => {
            const scan = batch[i];
            if (scan && answer && answer.client_scan_id === scan.client_scan_id && answer.result) {
              done.push([scan, answer]);
            }
          });
          await T.store.answered(done.map(([s]) => s.client_scan_id));
          done.forEach(([s, a]) => hooks.onAnswer(s, a));
          await refreshCount();
          if (!done.length) {
            backoff();
            break;
          }
          continue;
        }
        if (r.status === 401 || r.status === 403) {
          if (!(await refused(token, batch, r.status))) break;
          continue;
        }
        if (r.status === 400 || r.status === 422) {
          // One bad scan must not hold up the others: send them one by one.
          for (const scan of batch) await submit(scan);
          continue;
        }
        backoff();
        break;
      }
    } catch (e) {
      backoff();
    } finally {
      running = false;
      refreshCount();
    }
  }

  /* A new pairing (or the volunteer paired again): try the queue again at once. */
  function reset() {
    authBlocked = null;
    failures = 0;
    retryAt = 0;
  }

  function start(handlers) {
    Object.assign(hooks, handlers);
    window.addEventListener("online", () => {
      reset();
      run();
    });
    setInterval(async () => {
      if (authBlocked && Date.now() - authBlockedAt > AUTH_RETRY_MS) reset();
      if ((await T.store.waiting().catch(() => 0)) > 0) run();
    }, POLL_MS);
    refreshCount();
    run();
  }

  T.sync = { start, submit, run, reset, refreshCount, isBlocked: () => authBlocked !== null };
})();
