/* Pairing: the organizers' link (/scan/pair?code=XXXXXXXX) or a typed code becomes this
 * phone's device token (POST /api/registration/devices/pair), kept on the phone; then
 * the scanner opens. Scans still queued under an older pairing keep their own token. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const PAIR_URL = "/api/registration/devices/pair";

  let sending = false;

  function status(text, kind) {
    const el = T.$("pair-status");
    el.textContent = text;
    el.className = `status-line ${kind || ""}`;
  }

  function problem(r) {
    if (r.status === 404 || r.status === 422) return T.t("This code is not known. Please check it.");
    if (r.status === 410) return T.t("This code was already used or has expired. Ask the organizers for a new one.");
    if (r.status === 429) return T.t("Too many tries. Please wait a moment and try again.");
    return T.t("Something went wrong. Please try again.");
  }

  async function pair(code) {
    const clean = String(code || "").replace(/[\s-]/g, "").toUpperCase();
    if (!clean || sending) return;
    sending = true;
    T.$("pair-submit").disabled = true;
    status(T.t("Connecting…"), "busy");
    try {
      const r = await T.api("POST", PAIR_URL, { pairing_code: clean }, null, 15000);
      if (r.status === 200 && r.body && r.body.device_token) {
        // The same app scans at an entrance, at a stamp rally booth and at the prize desk.
        if (!["gate", "booth", "prize_desk"].includes(r.body.role)) {
          status(T.t("This code is not for this scanner."), "error");
          return;
        }
        T.settings.set("device", {
          token: r.body.device_token,
          role: r.body.role,
          event: r.body.event,
          place: r.body.place,
          expires_at: r.body.expires_at,
          paired_at: new Date().toISOString(),
          code: clean,
        });
        status(T.t("Connected. Opening the scanner…"), "ok");
        T.$("pair-done").hidden = false;
        // Give the worker a moment to keep the app for offline use, but never wait on it.
        const ready = "serviceWorker" in navigator ? navigator.serviceWorker.ready : Promise.resolve();
        await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 1500))]);
        location.replace("/scan/");
        return;
      }
      status(problem(r), "error");
    } catch (e) {
      status(T.t("No connection. Please try again."), "error");
    } finally {
      sending = false;
      T.$("pair-submit").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = T.$("pair-code");
    T.$("pair-form").addEventListener("submit", (e) => {
      e.preventDefault();
      pair(input.value);
    });
    const fromLink = new URLSearchParams(location.search).get("code");
    const kept = T.device();
    if (fromLink && kept && kept.code === fromLink.replace(/[\s-]/g, "").toUpperCase()) {
      location.replace("/scan/"); // this link was already used on this phone
      return;
    }
    if (fromLink) {
      input.value = fromLink;
      // Strings first, so the status is in the volunteer's language.
      Promise.resolve(T.i18nReady).finally(() => pair(fromLink));
    }
  });
})();
