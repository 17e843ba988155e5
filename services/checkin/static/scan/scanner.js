/* The scanner page: wires the camera, the manual field, the ENTRY/EXIT switch, the
 * offline check and the queue together, in the mode of the phone's pairing (its role):
 *
 *   gate       – entrance: ENTRY/EXIT, scans to /api/checkin/scans;
 *   booth      – stamp rally booth: scans stamp cards (rally.js), and the booth's
 *                self-service code can be shown instead (boothcode.js);
 *   prize_desk – stamp rally goal: scans hand out prizes, online only (rally.js).
 *
 * A gate's or booth's scan: check it on the phone (ticket.js) → queue it (store.js) →
 * send it at once when online (sync.js). The server's answer is shown if it comes within
 * ANSWER_WITHIN_MS; otherwise the phone's own answer is shown at once, marked "checked
 * offline", and the server's, if it comes while the answer is still on screen, replaces
 * it. A prize desk's scan waits for the server's answer, or says the network is needed. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const ANSWER_WITHIN_MS = 900;
  const REFRESH_MS = 60000;
  const MAX_QR_TEXT = 512; // what the API accepts; longer text is never a ticket anyway

  let busy = false;
  let direction = "in";
  let revoked = new Set();

  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const online = () => navigator.onLine !== false;
  const ROLES = ["gate", "booth", "prize_desk"];
  /* The phone's mode: its pairing's role (pairings made before there were roles: gate). */
  const role = () => {
    const d = T.device();
    return d && ROLES.includes(d.role) ? d.role : "gate";
  };

  function eventInfo() {
    const d = T.device();
    const info = T.settings.get("event");
    return info && d && info.event === d.event ? info : { categories: {}, timezone: "Asia/Tokyo" };
  }

  function notice(text) {
    const el = T.$("notice");
    el.textContent = text || "";
    el.hidden = !text;
  }

  // -- what the header shows --------------------------------------------------------------
  function renderHeader() {
    const d = T.device();
    if (!d) return;
    const info = eventInfo();
    const title = T.result.pick(d.event_title || info.title) || d.event;
    T.$("event-title").textContent = title;
    let place;
    if (role() === "booth") {
      place = T.t("Booth: %(place)s", { place: T.rally.boothLabel(d.place) });
      T.i18n.setText(T.$("mode-name"), "Stamp rally: stamps");
    } else if (role() === "prize_desk") {
      place = T.t("Prize desk");
      T.i18n.setText(T.$("mode-name"), "Stamp rally: prizes");
    } else {
      place = T.t("Gate: %(place)s", { place: d.place });
      T.i18n.setText(T.$("mode-name"), "Entrance check");
    }
    T.$("gate").textContent = place;
    document.title = `${title} · ${place}`;
  }

  function renderNet() {
    const net = T.$("net");
    const on = online();
    if (on) T.i18n.setText(net, "Online");
    else if (role() === "prize_desk") T.i18n.setText(net, "Offline: prizes need the network");
    else T.i18n.setText(net, "Offline: scans are saved on this phone");
    net.className = on ? "net online" : "net offline";
    document.body.classList.toggle("is-offline", !on);
  }

  function renderCount(waiting, failed) {
    const el = T.$("waiting-count");
    el.textContent = String(waiting);
    el.dataset.count = String(waiting);
    document.body.classList.toggle("has-waiting", waiting > 0);
    if (failed > 0) notice(T.t("%(n)s scans could not be sent. Please tell the organizers.", { n: failed }));
  }

  function setDirection(d) {
    direction = d === "out" ? "out" : "in";
    T.settings.set("direction", direction);
    document.body.classList.toggle("mode-in", direction === "in");
    document.body.classList.toggle("mode-out", direction === "out");
    T.$("mode-in").setAttribute("aria-pressed", String(direction === "in"));
    T.$("mode-out").setAttribute("aria-pressed", String(direction === "out"));
  }

  // -- what the phone keeps for offline checks ---------------------------------------------
  async function refresh() {
    const d = T.device();
    if (!d || !online()) return;
    const jobs = [
      T.api("GET", "/api/checkin/keys").then((r) => {
        if (r.status === 200 && r.body && Array.isArray(r.body.keys) && r.body.keys.length) {
          T.settings.set("keys", r.body.keys);
        }
      }),
      T.api("GET", "/api/checkin/revoked", undefined, d.token).then((r) => {
        if (r.status === 200 && r.body && Array.isArray(r.body.tickets)) {
          revoked = new Set(r.body.tickets);
          T.settings.set("revoked", { event: d.event, tickets: r.body.tickets });
        }
      }),
      T.api("GET", "/api/checkin/device", undefined, d.token).then((r) => {
        if (r.status === 200 && r.body && r.body.event === d.event) {
          T.settings.set("device", Object.assign({}, T.device(), { event_title: r.body.event_title }));
        } else if (r.status === 401 || r.status === 403) {
          notice(T.t("This phone's pairing has ended. Ask the organizers for a new pairing code."));
        }
      }),
      T.api("GET", "/scan/event.json", undefined, d.token).then((r) => {
        if (r.status === 200 && r.body && r.body.event === d.event) T.settings.set("event", r.body);
      }),
    ];
    if (role() !== "gate") jobs.push(T.rally.refresh(d));
    await Promise.all(jobs.map((j) => j.catch(() => null)));
    renderHeader();
  }

  function loadRevoked() {
    const d = T.device();
    const kept = T.settings.get("revoked");
    revoked = new Set(kept && d && kept.event === d.event ? kept.tickets : []);
  }

  /* Keep what an answer says about a ticket, for the next offline scan of it. */
  async function remember(scan, answer) {
    const p = T.ticket.parse(scan.qr_text);
    if (!p) return;
    if (answer.reason === "cancelled") {
      revoked.add(p.ticketId);
      const d = T.device();
      if (d) T.settings.set("revoked", { event: d.event, tickets: Array.from(revoked) });
      return;
    }
    const before = (await T.store.seen(p.ticketId).catch(() => null)) || {};
    const d = T.device() || {};
    const rec = Object.assign({ ticket_id: p.ticketId }, before);
    if (answer.attendee) rec.attendee = answer.attendee;
    if (scan.kind === "stamp") {
      // The booths that stamped this card on this phone: a second offline scan is amber.
      if (answer.result !== "stamped" && answer.result !== "already_stamped") return;
      const booths = new Set(Array.isArray(before.booths) ? before.booths : []);
      booths.add(scan.place);
      rec.booths = Array.from(booths);
    } else if (answer.result === "admitted") {
      Object.assign(rec, { inside: true, first_at: before.first_at || scan.scanned_at, first_gate: before.first_gate || d.place });
    } else if (answer.result === "already_admitted") {
      Object.assign(rec, { inside: true, first_at: answer.first_at || before.first_at, first_gate: answer.first_gate || before.first_gate });
    } else if (answer.result === "exited") {
      rec.inside = false;
    } else {
      return;
    }
    await T.store.remember(rec).catch(() => null);
  }

  // -- one scan ------------------------------------------------------------------------------
  function clean(text, source) {
    let s = typeof text === "string" ? text : "";
    if (source === "manual") {
      s = s.trim();
      if (/^t1\./i.test(s)) s = s.toUpperCase().replace(/\s+/g, "");
      // The ticket number printed under the QR (12 hex digits): the server looks it up.
      else if (/^[0-9a-f]{4}[\s-]?[0-9a-f]{4}[\s-]?[0-9a-f]{4}$/i.test(s)) {
        s = s.replace(/[\s-]/g, "").toUpperCase();
      }
    }
    return s;
  }

  async function handle(raw, source) {
    if (busy) return;
    const d = T.device();
    if (!d) return;
    const text = clean(raw, source);
    const rally = role() !== "gate";
    busy = true;
    T.camera.pause();
    if (!text) {
      // Nothing typed: certainly not a ticket, and not a scan worth keeping.
      T.result.show({ result: "rejected", reason: "invalid_signature" }, { rally });
      return;
    }
    try {
      if (role() === "prize_desk") await redeem(d, text.slice(0, MAX_QR_TEXT));
      else await checkAndQueue(d, text);
    } catch (e) {
      // Never leave the volunteer with a frozen screen.
      T.result.show({ result: "rejected", reason: "invalid_signature" }, { provisional: true, rally });
    }
  }

  /* The prize desk: the server's answer or nothing (a prize is never given offline). */
  async function redeem(d, text) {
    const info = { rally: true, event: eventInfo() };
    if (!online()) {
      T.result.show({ result: "network_needed" }, info);
      return;
    }
    const sent = await T.rally.redeem(text, d.token);
    if (sent.answer) {
      T.result.show(sent.answer, info);
      return;
    }
    if (sent.status === 401 || sent.status === 403) {
      notice(T.t("This phone's pairing has ended. Ask the organizers for a new pairing code."));
    }
    if (sent.status) T.result.show({ result: "rejected", reason: "request_refused" }, info);
    else T.result.show({ result: "network_needed" }, info);
  }

  /* A gate's or a booth's scan: checked on the phone, queued, sent. */
  async function checkAndQueue(d, text) {
    const booth = role() === "booth";
    const scan = {
      client_scan_id: T.uuid(),
      qr_text: text.slice(0, MAX_QR_TEXT),
      scanned_at: new Date().toISOString(),
      token: d.token,
    };
    if (booth) Object.assign(scan, { kind: "stamp", place: d.place });
    else scan.direction = direction;
    const local = await T.ticket.check(text, {
      keys: T.settings.get("keys", []),
      event: d.event,
      revoked,
      direction: booth ? "in" : direction,
      categories: eventInfo().categories,
      role: role(),
      place: d.place,
    });
    try {
      await T.store.enqueue(scan);
    } catch (e) {
      /* storage failed: it is still sent now, just not kept */
    }
    T.sync.refreshCount();
    const info = { scanId: scan.client_scan_id, event: eventInfo(), rally: booth };
    let answer = null;
    if (online() && !T.sync.isBlocked()) {
      const sent = T.sync.submit(scan).catch(() => null);
      answer = await Promise.race([sent, wait(ANSWER_WITHIN_MS).then(() => null)]);
      if (!answer) {
        // The server's answer came late: it replaces the phone's while still shown
        // (a new sound only if it differs).
        sent.then((late) => {
          if (late && T.result.showing() === scan.client_scan_id) {
            const quiet = late.result === local.result;
            T.result.show(late, Object.assign({}, info, { quiet }));
          }
        });
      }
    }
    if (answer) {
      T.result.show(answer, info);
    } else {
      const mine = { result: local.result, reason: local.reason, attendee: local.attendee };
      if (local.result === "already_admitted") {
        Object.assign(mine, { first_at: local.first_at, first_gate: local.first_gate });
      }
      T.result.show(mine, Object.assign({}, info, { provisional: true, unverified: local.unverified }));
      await remember(scan, mine);
    }
  }

  // -- the camera ----------------------------------------------------------------------------
  let wakeLock = null;

  /* Keep the screen on while the camera runs (where the phone allows it). */
  async function keepAwake() {
    try {
      if (navigator.wakeLock && !wakeLock) {
        wakeLock = await navigator.wakeLock.request("screen");
        wakeLock.addEventListener("release", () => {
          wakeLock = null;
        });
      }
    } catch (e) {
      wakeLock = null;
    }
  }

  async function startCamera() {
    T.feedback.unlock();
    const ok = await T.camera.start(T.$("video"), (text) => handle(text, "camera"));
    T.$("camera-off").hidden = ok;
    document.body.classList.toggle("camera-on", ok);
    if (ok) {
      keepAwake();
    } else {
      T.i18n.setText(T.$("camera-msg"), "The camera is not available. Tap to try again, or type the code.");
    }
    return ok;
  }

  function stopCamera() {
    T.camera.stop();
    document.body.classList.remove("camera-on");
    T.$("camera-off").hidden = false;
  }

  /* A phone in a pocket does not film: the camera stops while the page is hidden. */
  let cameraWanted = false;
  function onVisibility() {
    if (T.boothCode.isOpen()) return; // the code screen looks after itself
    if (document.hidden) {
      cameraWanted = T.camera.running();
      T.camera.stop();
    } else if (cameraWanted) {
      startCamera();
    }
  }

  // -- a booth's self-service code -----------------------------------------------------------
  /* The booth tablet shows its rotating code for attendees to scan with their stamp card
   * page; the camera rests meanwhile. */
  function showBoothCode() {
    T.result.hide();
    stopCamera();
    T.$("scanner").hidden = true;
    T.boothCode.open(T.device());
    keepAwake();
  }

  function backToScanning() {
    T.boothCode.close();
    T.$("scanner").hidden = false;
    startCamera();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const d = T.device();
    if (!d || !d.token) {
      T.$("unpaired").hidden = false;
      return;
    }
    T.$("scanner").hidden = false;
    document.body.classList.add(`role-${role()}`);
    // Only an entrance has ENTRY and EXIT; a booth and the prize desk always scan "in".
    if (role() === "gate") setDirection(T.settings.get("direction", "in"));
    T.$("show-code").hidden = role() !== "booth";
    loadRevoked();
    renderHeader();
    renderNet();
    T.result.init(() => {
      busy = false;
      T.camera.resume();
    });

    T.$("mode-in").addEventListener("click", () => setDirection("in"));
    T.$("mode-out").addEventListener("click", () => setDirection("out"));
    T.$("show-code").addEventListener("click", showBoothCode);
    T.$("code-back").addEventListener("click", backToScanning);
    T.$("manual").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = T.$("manual-code");
      const text = input.value;
      input.value = "";
      input.blur();
      handle(text, "manual");
    });
    T.$("camera-start").addEventListener("click", startCamera);
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("online", () => {
      renderNet();
      refresh();
    });
    window.addEventListener("offline", renderNet);
    document.addEventListener("tomoni:lang", () => {
      renderHeader();
      renderNet();
      T.sync.refreshCount();
      T.boothCode.render();
    });

    T.sync.start({
      onCount: renderCount,
      onAnswer: (scan, answer) => remember(scan, answer),
      onAuth: () => notice(T.t("This phone's pairing has ended. Ask the organizers for a new pairing code.")),
    });
    refresh();
    setInterval(refresh, REFRESH_MS);
    startCamera();
  });
})();
