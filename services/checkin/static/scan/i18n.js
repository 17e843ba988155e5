/* The volunteer's own language for the scanner's text. The strings come from the
 * server's catalogs as JSON (/scan/i18n/<lang>.json, kept by the service worker and on
 * the phone), keyed by the English msgid: T.t("Check") is "確認" in Japanese. The choice
 * is remembered on this phone only (it is the volunteer's, not the attendee's). */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const LANGS = ["ja", "en", "zh", "ko", "vi", "tl", "tr", "ne", "id", "th", "pt", "es"];
  let pack = { lang: "en", strings: {}, results: {}, languages: {} };

  function chosen() {
    const stored = T.settings.get("lang");
    if (LANGS.includes(stored)) return stored;
    const page = document.body.dataset.lang;
    return LANGS.includes(page) ? page : "ja";
  }

  /* Translate a msgid; %(name)s placeholders are filled from params. */
  function t(msgid, params) {
    let text = (pack.strings && pack.strings[msgid]) || msgid;
    if (params) {
      text = text.replace(/%\((\w+)\)s/g, (m, key) =>
        Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : m
      );
    }
    return text;
  }

  /* The localized answer for a scan result or reason code (service.MESSAGES). */
  function result(code, fallback) {
    return (pack.results && pack.results[code]) || fallback || code;
  }

  /* A language's name for the volunteer: "ベトナム語 (Tiếng Việt)". */
  function languageName(code) {
    const n = pack.languages && pack.languages[code];
    if (!n) return code || "";
    return n.local && n.local !== n.own ? `${n.local} (${n.own})` : n.own;
  }

  /* Show a msgid in an element and keep it there when the language changes. */
  function setText(el, msgid) {
    if (!el) return;
    el.dataset.i18n = msgid;
    el.textContent = t(msgid);
  }

  function apply(root) {
    const scope = root || document;
    scope.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    scope.querySelectorAll("[data-i18n-aria]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nAria));
    });
    document.documentElement.lang = pack.lang;
    const select = T.$("lang");
    if (select) select.value = pack.lang;
  }

  async function fetchPack(lang) {
    const base = document.body.dataset.strings || "/scan/i18n/";
    const r = await T.fetchWithin(`${base}${lang}.json`, { cache: "no-cache" }, 8000);
    if (!r.ok) throw new Error(`strings ${r.status}`);
    return r.json();
  }

  /* Use the copy kept on the phone at once, then a fresh one when it comes. */
  async function load(lang) {
    const kept = T.settings.get(`strings.${lang}`);
    if (kept && kept.lang === lang) {
      pack = kept;
      apply();
    }
    try {
      const fresh = await fetchPack(lang);
      if (fresh && fresh.lang === lang) {
        pack = fresh;
        T.settings.set(`strings.${lang}`, fresh);
        apply();
      }
    } catch (e) {
      /* offline and never fetched: the page keeps the text it was rendered with */
    }
    document.dispatchEvent(new CustomEvent("tomoni:lang", { detail: pack.lang }));
  }

  function setLang(lang) {
    if (!LANGS.includes(lang)) return Promise.resolve();
    T.settings.set("lang", lang);
    return load(lang);
  }

  T.i18n = { t, result, languageName, apply, setText, load, setLang, current: () => pack.lang, chosen };
  T.t = t;

  document.addEventListener("DOMContentLoaded", () => {
    pack.lang = chosen();
    const select = T.$("lang");
    if (select) {
      select.value = pack.lang;
      select.addEventListener("change", () => setLang(select.value));
    }
    T.i18nReady = load(pack.lang);
  });
})();
