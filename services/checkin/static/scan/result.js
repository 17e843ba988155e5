/* The answer, full screen, readable at arm's length: GREEN admitted (name, party size,
 * category, the attendee's language, so the volunteer can greet them), AMBER already
 * admitted (when and where), RED rejected (why). The stamp rally's answers (rally.js)
 * use the same colours: GREEN stamped / give this prize, AMBER already stamped, already
 * given, card not complete, RED rejected / no prizes left; GREY when the prize desk has
 * no network. An answer decided on the phone alone says so ("checked offline"). A tap
 * or a few seconds dismisses it. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    ok: "M20 52 L42 74 L82 28",
    warn: "M50 18 L50 58 M50 76 L50 80",
    no: "M26 26 L74 74 M74 26 L26 74",
  };
  const SHOW_MS = { green: 2000, amber: 3000, red: 3000, grey: 4000 };
  // Answers that ask the volunteer to do something stay longer (a tap still dismisses).
  const LONGER_MS = { redeemed: 5000, completed: 4000 };

  let timer = null;
  let onHidden = null;
  let shownScan = null;

  function colour(result) {
    if (result === "admitted" || result === "exited") return "green";
    if (result === "already_admitted") return "amber";
    return "red";
  }

  function icon(kind) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 100 100");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[kind]);
    svg.appendChild(path);
    return svg;
  }

  /* A multilingual text from the event ({ja, en, …}) in the volunteer's language. */
  function pick(text) {
    if (!text || typeof text !== "object") return text ? String(text) : "";
    const lang = T.i18n.current();
    for (const code of [lang, "ja", "en"]) if (text[code]) return text[code];
    const first = Object.values(text).find(Boolean);
    return first ? String(first) : "";
  }

  /* "14:05", or "11/3 14:05" when it was not today, in the event's time zone. */
  function when(iso, zone) {
    const at = new Date(iso);
    if (!iso || isNaN(at.getTime())) return "";
    const lang = T.i18n.current();
    const opts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone || "Asia/Tokyo" };
    try {
      const day = (d) => new Intl.DateTimeFormat("en-CA", { timeZone: opts.timeZone }).format(d);
      if (day(at) !== day(new Date())) Object.assign(opts, { month: "numeric", day: "numeric" });
      return new Intl.DateTimeFormat(lang, opts).format(at);
    } catch (e) {
      return at.toLocaleString();
    }
  }

  function detail(dl, label, value) {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dl.append(dt, dd);
  }

  function hide() {
    clearTimeout(timer);
    timer = null;
    const box = T.$("result");
    if (!box || box.hidden) return;
    box.hidden = true;
    shownScan = null;
    document.body.classList.remove("showing-result");
    if (onHidden) onHidden();
  }

  /* The stamp rally's answers (booth and prize desk): their own titles and details. */
  function showRally(answer, opts, dl) {
    T.$("result-title").textContent = T.rally.title(answer, opts);
    const note = T.$("result-note");
    note.textContent = T.rally.note(answer);
    note.hidden = !note.textContent;
    const zone = opts.event && opts.event.timezone;
    for (const [label, value] of T.rally.details(answer, zone)) detail(dl, label, value);
  }

  /* Show an answer. `info`: {provisional, unverified, scanId, quiet (no sound),
   * rally (a booth's or prize desk's answer), event: {categories, timezone}}. */
  function show(answer, info) {
    const opts = info || {};
    const box = T.$("result");
    const rally = !!(opts.rally && T.rally);
    const c = rally ? T.rally.colour(answer) : colour(answer.result);
    box.className = `result result-${c} result-${answer.result}`;
    box.dataset.result = answer.result;
    box.dataset.provisional = opts.provisional ? "1" : "0";
    T.$("result-icon").replaceChildren(icon(c === "green" ? "ok" : c === "red" ? "no" : "warn"));

    const attendee = answer.result === "rejected" ? null : answer.attendee;
    T.$("result-name").textContent = (attendee && attendee.display_name) || "";
    const dl = T.$("result-details");
    dl.replaceChildren();
    const note = T.$("result-note");
    note.hidden = true;
    note.textContent = "";
    if (rally) {
      showRally(answer, opts, dl);
    } else {
      T.$("result-title").textContent = T.i18n.result(answer.reason || answer.result, answer.message);
    }
    if (attendee && !rally) {
      const cats = (opts.event && opts.event.categories) || {};
      const cat = cats[attendee.category];
      detail(dl, T.t("People"), attendee.party_size);
      detail(dl, T.t("Category"), cat ? pick(cat.title) || attendee.category : attendee.category);
      if (attendee.language) detail(dl, T.t("Language"), T.i18n.languageName(attendee.language));
    }
    if (answer.result === "already_admitted") {
      detail(dl, T.t("First entry"), when(answer.first_at, opts.event && opts.event.timezone));
      detail(dl, T.t("Gate"), answer.first_gate);
    }
    const offline = T.$("result-offline");
    offline.hidden = !opts.provisional;
    if (opts.unverified) T.i18n.setText(offline, "Checked offline, signature not checked on this phone");
    else T.i18n.setText(offline, "Checked offline: not confirmed yet");

    shownScan = opts.scanId || null;
    box.hidden = false;
    document.body.classList.add("showing-result");
    const sound = rally ? T.rally.sound(answer) : answer.result;
    if (!opts.quiet) T.feedback.signal(sound);
    clearTimeout(timer);
    timer = setTimeout(hide, LONGER_MS[sound] || SHOW_MS[c]);
  }

  function init(hiddenHandler) {
    onHidden = hiddenHandler;
    const box = T.$("result");
    if (box) box.addEventListener("click", hide);
    document.addEventListener("keydown", (e) => {
      if ((e.key === "Escape" || e.key === "Enter") && !box.hidden) {
        e.preventDefault();
        hide();
      }
    });
  }

  T.result = { init, show, hide, pick, when, showing: () => shownScan };
})();
