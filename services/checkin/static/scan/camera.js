/* The rear camera and the QR decoder. Frames are decoded a few times a second with
 * BarcodeDetector where the phone has it, else with jsQR (vendor/), on a canvas at most
 * 640 pixels wide so an old phone keeps up. The same text seen again within a few
 * seconds is ignored (a ticket held still in front of the camera is one scan). */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const INTERVAL_MS = 150;
  const REPEAT_PAUSE_MS = 4000;
  const MAX_WIDTH = 640;

  let video = null;
  let stream = null;
  let timer = null;
  let paused = false;
  let onText = null;
  let detector = null;
  let canvas = null;
  let last = { text: null, at: 0 };
  let busy = false;
  const stats = { repeats: 0 }; // sightings ignored as repeats (for tests and debugging)

  async function makeDetector() {
    try {
      if (!("BarcodeDetector" in window)) return null;
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    } catch (e) {
      return null;
    }
  }

  function frame() {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    const scale = Math.min(1, MAX_WIDTH / w);
    const cw = Math.round(w * scale);
    const ch = Math.round(h * scale);
    if (!canvas) canvas = document.createElement("canvas");
    if (canvas.width !== cw || canvas.height !== ch) {
      canvas.width = cw;
      canvas.height = ch;
    }
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(video, 0, 0, cw, ch);
    return g.getImageData(0, 0, cw, ch);
  }

  async function decode() {
    if (detector) {
      try {
        const found = await detector.detect(video);
        if (found && found.length) return found[0].rawValue;
        return null;
      } catch (e) {
        detector = null; // fall back to jsQR from now on
      }
    }
    if (typeof window.jsQR !== "function") return null;
    const img = frame();
    if (!img) return null;
    const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    return code && code.data ? code.data : null;
  }

  async function tick() {
    if (busy || paused || !video || video.readyState < 2) return;
    busy = true;
    try {
      const text = await decode();
      if (text && !paused) {
        const now = Date.now();
        if (text !== last.text || now - last.at > REPEAT_PAUSE_MS) {
          last = { text, at: now };
          onText(text);
        } else {
          last.at = now; // still in front of the camera: keep ignoring it
          stats.repeats += 1;
        }
      }
    } catch (e) {
      /* a bad frame is skipped */
    } finally {
      busy = false;
    }
  }

  /* Start the rear camera into `videoEl`; `handler(text)` gets each new QR text.
   * Resolves true when the camera runs, false when the phone refused. */
  async function start(videoEl, handler) {
    video = videoEl;
    onText = handler;
    if (stream) return true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return false;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (e) {
      stream = null;
      return false;
    }
    video.srcObject = stream;
    try {
      await video.play();
    } catch (e) {
      /* autoplay of a muted video is allowed; a refusal here is retried on tap */
    }
    detector = await makeDetector();
    if (!timer) timer = setInterval(tick, INTERVAL_MS);
    return true;
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
  }

  T.camera = {
    stats,
    start,
    stop,
    running: () => !!stream,
    pause: () => {
      paused = true;
    },
    /* Resume decoding; the text just answered stays ignored for a few seconds more. */
    resume: () => {
      paused = false;
      last.at = Date.now();
    },
  };
})();
