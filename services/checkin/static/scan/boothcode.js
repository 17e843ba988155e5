/* A booth tablet's self-service code: the booth's rotating code (GET
 * /api/stamprally/booth-code → {booth, code, refresh_in}), drawn as a big black-on-white
 * QR code for attendees to scan from their stamp card page. A new code comes every 30 s:
 * it is fetched again when `refresh_in` has passed. The QR code is drawn on a canvas by
 * qrcode-generator (vendor/, see THIRD_PARTY.md), whole pixels per module, with its quiet
 * zone. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const CODE_URL = "/api/stamprally/booth-code";
  const RETRY_MS = 3000;
  const AFTER_ROTATION_MS = 300; // ask just after the new code's window has begun
  // stamprally accepts a code for two minutes after it was made: an older one on the
  // screen would only make attendees' scans fail, so it is taken down.
  const STALE_MS = 120000;
  const QUIET = 4; // modules of white around the code, as the QR standard asks

  let open = false;
  let timer = null;
  let device = null;
  let shown = null; // {code, booth, at}
  let status = "loading"; // loading | ok | offline | refused

  function draw(code) {
    const canvas = T.$("code-qr");
    if (!code || typeof window.qrcode !== "function") {
      canvas.hidden = true;
      canvas.dataset.code = "";
      return;
    }
    const qr = window.qrcode(0, "M");
    qr.addData(code);
    qr.make();
    const n = qr.getModuleCount();
    const total = n + 2 * QUIET;
    // As many whole device pixels per module as the box allows (sharp edges), at least 4.
    const box = canvas.parentElement.getBoundingClientRect();
    const cssSide = Math.max(160, Math.min(box.width || 320, box.height || box.width || 320));
    const scale = Math.max(4, Math.floor((cssSide * (window.devicePixelRatio || 1)) / total));
    const side = scale * total;
    canvas.width = side;
    canvas.height = side;
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, side, side);
    g.fillStyle = "#000";
    for (let r = 0; r < n; r += 1) {
      for (let c = 0; c < n; c += 1) {
        if (qr.isDark(r, c)) g.fillRect((c + QUIET) * scale, (r + QUIET) * scale, scale, scale);
      }
    }
    canvas.dataset.code = code;
    canvas.hidden = false;
  }

  /* The texts of the screen, in the volunteer's language (again when it changes). */
  function render() {
    if (!open || !device) return;
    const booth = (shown && shown.booth) || device.place;
    T.$("code-booth").textContent = T.t("Booth: %(place)s", { place: T.rally.boothLabel(booth) });
    const line = T.$("code-status");
    line.className = `code-status ${status}`;
    if (status === "loading") T.i18n.setText(line, "Loading the code…");
    else if (status === "offline") T.i18n.setText(line, "No connection. Trying again…");
    else if (status === "refused") {
      T.i18n.setText(line, "This phone's pairing has ended. Ask the organizers for a new pairing code.");
    } else {
      delete line.dataset.i18n; // nothing to say (and nothing to translate again)
      line.textContent = "";
    }
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = open && !document.hidden ? setTimeout(fetchCode, ms) : null;
  }

  async function fetchCode() {
    if (!open || !device) return;
    let r = null;
    try {
      r = await T.api("GET", CODE_URL, undefined, device.token, 8000);
    } catch (e) {
      r = null;
    }
    if (!open) return;
    if (r && r.status === 200 && r.body && r.body.code) {
      shown = { code: r.body.code, booth: r.body.booth, at: Date.now() };
      status = "ok";
      draw(shown.code);
      render();
      const next = Number(r.body.refresh_in);
      schedule((Number.isFinite(next) && next > 0 ? next * 1000 : 30000) + AFTER_ROTATION_MS);
      return;
    }
    status = r && (r.status === 401 || r.status === 403) ? "refused" : "offline";
    if (shown && Date.now() - shown.at > STALE_MS) {
      shown = null;
      draw(null);
    }
    render();
    schedule(RETRY_MS);
  }

  function onVisibility() {
    if (!open) return;
    if (document.hidden) schedule(0); // stops the timer
    else fetchCode();
  }

  T.boothCode = {
    open(dev) {
      device = dev;
      open = true;
      status = "loading";
      shown = null;
      draw(null);
      T.$("booth-code").hidden = false;
      document.body.classList.add("showing-code");
      render();
      fetchCode();
    },
    close() {
      open = false;
      clearTimeout(timer);
      timer = null;
      T.$("booth-code").hidden = true;
      document.body.classList.remove("showing-code");
    },
    render,
    isOpen: () => open,
    current: () => (shown ? shown.code : null),
  };
  document.addEventListener("visibilitychange", onVisibility);
})();
