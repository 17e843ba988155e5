/* Tomoni stamp card: live updates and the self-service scanner. The page works without
 * this file (it is rendered complete by the server); this adds:
 *
 * - the live update: an EventSource on <page>/events gets the whole card after each stamp
 *   ("event: card"); the booths, rendered once by the server in the page language, are
 *   moved between the lists and the numbers changed in place. On an error the browser
 *   reconnects by itself, and the card is fetched again from the API to show the truth.
 * - the scanner: the rear camera reads a booth's rotating QR code ("B1.…", BarcodeDetector
 *   where the phone has it, else jsQR, loaded only then) and sends it to the API.
 *
 * Every text it shows comes from the page's <template> elements (already translated). */
(function () {
  "use strict";

  var main = document.getElementById("main");
  if (!main || !main.getAttribute("data-card-api")) return;

  var API = main.getAttribute("data-card-api");
  var EVENTS = main.getAttribute("data-events");
  var SECRET = main.getAttribute("data-secret");
  var JSQR = main.getAttribute("data-jsqr");
  var ZONE = main.getAttribute("data-timezone") || "Asia/Tokyo";
  var REFETCH_GAP_MS = 5000;
  var RECONNECT_MS = 5000;
  var SCAN_INTERVAL_MS = 200;
  var WRONG_CODE_PAUSE_MS = 3000;

  function $(id) { return document.getElementById(id); }

  function fromTemplate(id, booth) {
    var t = $("t-" + id);
    if (!t) return null;
    var node = document.importNode(t.content, true);
    Array.prototype.forEach.call(node.querySelectorAll(".slot-booth"), function (slot) {
      slot.textContent = booth || "";
    });
    return node;
  }

  function textOf(id, booth) {
    var node = fromTemplate(id, booth);
    var box = document.createElement("div");
    if (node) box.appendChild(node);
    return box;
  }

  // -- the card ---------------------------------------------------------------------------
  var clock = null;
  try {
    clock = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: ZONE,
    });
  } catch (e) {
    clock = null;
  }

  function hhmm(iso) {
    var d = new Date(iso);
    if (clock) return clock.format(d);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function boothItem(code) {
    var items = document.querySelectorAll("li.booth[data-booth]");
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("data-booth") === code) return items[i];
    }
    // A booth no longer in the rally keeps its stamp: an item like the others, named by
    // its code.
    var blank = $("t-booth");
    if (!blank) return null;
    var li = document.importNode(blank.content, true).querySelector("li");
    li.setAttribute("data-booth", code);
    li.querySelector(".booth-name").textContent = code;
    return li;
  }

  function boothName(code) {
    var li = boothItem(code);
    var name = li && li.querySelector(".booth-name");
    return name ? name.textContent.trim() : code;
  }

  function setNumbers(cls, n) {
    Array.prototype.forEach.call(document.querySelectorAll("." + cls), function (el) {
      el.textContent = String(n);
    });
  }

  function announce(text) {
    var live = $("live");
    if (!live) return;
    live.hidden = false;
    live.textContent = "";
    live.appendChild(text);
  }

  var liveState = null;
  function setLive(state) {
    if (liveState === state) return;
    liveState = state;
    announce(textOf(state === "on" ? "live-on" : "live-off"));
  }

  function apply(card) {
    var stampedList = $("stamped");
    var needed = $("needed");
    var others = $("others");
    var fresh = [];
    card.stamps.forEach(function (s) {
      var li = boothItem(s.booth);
      if (!li) return;
      var time = li.querySelector("time.at");
      if (!li.classList.contains("is-stamped")) {
        fresh.push(s.booth);
        li.classList.add("is-stamped", "just-stamped");
      }
      if (time) {
        time.setAttribute("datetime", s.at);
        time.textContent = hhmm(s.at);
      }
      var at = li.querySelector(".stamped-at");
      if (at) at.hidden = false;
      stampedList.appendChild(li); // in the card's order: by time
    });
    var have = card.stamps.length;
    var total = card.required;
    var toGo = card.completed ? 0 : Math.max(card.missing_booths.length, total - have, 0);
    var done = Math.max(total - toGo, 0);
    setNumbers("n-done", done);
    setNumbers("n-total", total);
    setNumbers("n-to-go", toGo);
    var bar = $("progress-bar");
    if (bar) {
      bar.max = total;
      bar.value = done;
    }
    Array.prototype.forEach.call(document.querySelectorAll(".slots li"), function (li, i) {
      li.classList.toggle("on", i < done);
    });
    $("no-stamps").hidden = have > 0;
    $("needed-section").hidden = !needed.querySelector("li");
    $("others-section").hidden = !others.querySelector("li");
    $("to-go").hidden = !!card.completed;

    var complete = $("complete");
    var wasHidden = complete.hidden;
    complete.hidden = !card.completed;
    $("show-desk").hidden = !!card.redeemed;
    $("redeemed").hidden = !card.redeemed;
    if (fresh.length) {
      announce(textOf("new-stamp", fresh.map(boothName).join(", ")));
    }
    if (card.completed && wasHidden) {
      complete.focus();
      if (complete.scrollIntoView) complete.scrollIntoView({ block: "start" });
    }
  }

  // -- live updates -----------------------------------------------------------------------
  var lastFetch = 0;
  function refetch(force) {
    var now = Date.now();
    if (!force && now - lastFetch < REFETCH_GAP_MS) return;
    lastFetch = now;
    if (!window.fetch) return;
    window.fetch(API, { headers: { "X-Registration-Secret": SECRET }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (card) { if (card) apply(card); })
      .catch(function () { /* offline: the stream's reconnect tries again */ });
  }

  var source = null;
  function connect() {
    if (!window.EventSource || !EVENTS) return;
    source = new window.EventSource(EVENTS);
    source.addEventListener("card", function (e) {
      setLive("on");
      try {
        apply(JSON.parse(e.data));
      } catch (err) {
        refetch(true);
      }
    });
    source.addEventListener("error", function () {
      setLive("off");
      refetch(false);
      // A refused stream (e.g. the server restarting) is not retried by the browser.
      if (source.readyState === 2) {
        source.close();
        window.setTimeout(connect, RECONNECT_MS);
      }
    });
  }

  document.addEventListener("visibilitychange", function () {
    // A phone that slept may have missed stamps while the stream was frozen.
    if (document.visibilityState === "visible") refetch(true);
  });

  connect();

  // -- the self-service scanner -----------------------------------------------------------
  var scanner = $("scanner");
  var startButton = $("scan-start");
  var stopButton = $("scan-stop");
  var cameraBox = $("camera");
  var video = $("camera-video");
  var resultBox = $("scan-result");
  var stream = null;
  var timer = null;
  var detector = null;
  var canvas = null;
  var busy = false;
  var pausedUntil = 0;

  function showResult(id, booth) {
    resultBox.textContent = "";
    var node = fromTemplate(id, booth) || fromTemplate("rejected");
    resultBox.appendChild(node);
  }

  function loadJsQR() {
    return new Promise(function (resolve) {
      if (typeof window.jsQR === "function" || !JSQR) return resolve();
      var s = document.createElement("script");
      s.src = JSQR;
      s.onload = function () { resolve(); };
      s.onerror = function () { resolve(); };
      document.head.appendChild(s);
    });
  }

  function makeDetector() {
    try {
      if (!("BarcodeDetector" in window)) return Promise.resolve(null);
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        return formats.indexOf("qr_code") >= 0
          ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      }).catch(function () { return null; });
    } catch (e) {
      return Promise.resolve(null);
    }
  }

  function frame() {
    var w = video.videoWidth;
    var h = video.videoHeight;
    if (!w || !h) return null;
    var scale = Math.min(1, 640 / w);
    var cw = Math.round(w * scale);
    var ch = Math.round(h * scale);
    if (!canvas) canvas = document.createElement("canvas");
    if (canvas.width !== cw || canvas.height !== ch) {
      canvas.width = cw;
      canvas.height = ch;
    }
    var g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, cw, ch);
    return g.getImageData(0, 0, cw, ch);
  }

  function decode() {
    if (detector) {
      return detector.detect(video).then(function (found) {
        return found && found.length ? found[0].rawValue : null;
      }).catch(function () {
        detector = null; // use jsQR from now on
        return loadJsQR().then(function () { return null; });
      });
    }
    if (typeof window.jsQR !== "function") return Promise.resolve(null);
    var img = frame();
    if (!img) return Promise.resolve(null);
    var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    return Promise.resolve(code && code.data ? code.data : null);
  }

  function tick() {
    if (busy || !stream || video.readyState < 2 || Date.now() < pausedUntil) return;
    busy = true;
    decode().then(function (text) {
      busy = false;
      if (text && stream) scanned(text);
    }, function () { busy = false; });
  }

  function stopCamera() {
    if (timer) window.clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.srcObject = null;
    cameraBox.hidden = true;
    startButton.hidden = false;
    document.body.classList.remove("camera-on");
  }

  function startCamera() {
    resultBox.textContent = "";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showResult("no-camera");
      return;
    }
    startButton.setAttribute("aria-disabled", "true");
    makeDetector().then(function (d) {
      detector = d;
      return d ? null : loadJsQR();
    }).then(function () {
      return navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      cameraBox.hidden = false;
      startButton.hidden = true;
      document.body.classList.add("camera-on");
      var played = video.play();
      if (played && played.catch) played.catch(function () { /* muted: allowed */ });
      timer = window.setInterval(tick, SCAN_INTERVAL_MS);
      stopButton.focus();
    }).catch(function () {
      stopCamera();
      showResult("no-camera");
    }).then(function () {
      startButton.removeAttribute("aria-disabled");
    });
  }

  /* A QR code was read: a booth's code is sent; anything else is explained, and the
   * camera keeps looking after a short pause. */
  function scanned(text) {
    if (text.indexOf("B1.") !== 0) {
      showResult("invalid_code");
      pausedUntil = Date.now() + WRONG_CODE_PAUSE_MS;
      return Promise.resolve(null);
    }
    stopCamera();
    return window.fetch(API + "/stamps", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Registration-Secret": SECRET },
      body: JSON.stringify({ booth_code: text }),
      cache: "no-store",
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (answer) {
      var id = answer.result === "rejected" ? (answer.reason || "rejected") : answer.result;
      showResult(id, answer.booth ? boothName(answer.booth) : "");
      if (answer.result === "stamped") refetch(true);
      return answer;
    }).catch(function () {
      showResult("offline");
      return null;
    });
  }

  if (scanner && startButton) {
    scanner.hidden = false;
    startButton.addEventListener("click", function () {
      if (startButton.getAttribute("aria-disabled")) return;
      startCamera();
    });
    stopButton.addEventListener("click", function () {
      stopCamera();
      startButton.focus();
    });
    window.addEventListener("pagehide", stopCamera);
  }

  // For the page's tests and for debugging in the browser's console.
  window.TomoniCard = { apply: apply, scanned: scanned, refetch: refetch };
})();
