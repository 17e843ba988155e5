/* A short sound and a vibration for each answer, different enough to tell apart without
 * looking: admitted = two rising beeps, already admitted = three level beeps, rejected =
 * one long low buzz. The stamp rally's answers sound the same way by colour (stamped like
 * admitted, already stamped / already given / not complete like already admitted, no
 * prizes left like rejected), with their own for the moments that matter: a completed
 * card (three rising beeps), a prize to give (a rising run of four), and no network at
 * the prize desk (two low beeps). WebAudio oscillators only (no audio files); phones allow sound only
 * after a tap, so unlock() is called from the page's first touch. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  let ctx = null;

  const TONES = {
    // [frequency Hz, start s, length s]
    admitted: { wave: "sine", notes: [[880, 0, 0.12], [1320, 0.14, 0.18]] },
    exited: { wave: "sine", notes: [[1320, 0, 0.12], [880, 0.14, 0.16]] },
    already_admitted: { wave: "triangle", notes: [[660, 0, 0.1], [660, 0.16, 0.1], [660, 0.32, 0.1]] },
    rejected: { wave: "square", notes: [[196, 0, 0.5]] },
    completed: { wave: "sine", notes: [[880, 0, 0.12], [1108, 0.14, 0.12], [1320, 0.28, 0.22]] },
    redeemed: {
      wave: "sine",
      notes: [[660, 0, 0.1], [880, 0.12, 0.1], [1108, 0.24, 0.1], [1320, 0.36, 0.24]],
    },
    network_needed: { wave: "triangle", notes: [[330, 0, 0.18], [262, 0.24, 0.28]] },
  };
  TONES.stamped = TONES.admitted;
  TONES.already_stamped = TONES.already_admitted;
  TONES.already_redeemed = TONES.already_admitted;
  TONES.not_completed = TONES.already_admitted;
  TONES.out_of_stock = TONES.rejected;
  const VIBRATION = {
    admitted: [80],
    exited: [60],
    already_admitted: [90, 80, 90, 80, 90],
    rejected: [400, 120, 400],
    completed: [80, 60, 80, 60, 200],
    redeemed: [80, 60, 80, 60, 80, 60, 250],
    network_needed: [200, 150, 200],
  };
  VIBRATION.stamped = VIBRATION.admitted;
  VIBRATION.already_stamped = VIBRATION.already_admitted;
  VIBRATION.already_redeemed = VIBRATION.already_admitted;
  VIBRATION.not_completed = VIBRATION.already_admitted;
  VIBRATION.out_of_stock = VIBRATION.rejected;

  function unlock() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!ctx) ctx = new Ctx();
      if (ctx.state === "suspended") ctx.resume().catch(() => {});
    } catch (e) {
      ctx = null;
    }
  }

  function beep(result) {
    if (!ctx || ctx.state !== "running") return;
    const tone = TONES[result] || TONES.rejected;
    const now = ctx.currentTime + 0.01;
    for (const [freq, start, length] of tone.notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = tone.wave;
      osc.frequency.value = freq;
      // A quick fade in and out, so the beeps do not click.
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.4, now + start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + start);
      osc.stop(now + start + length + 0.02);
    }
  }

  function signal(result) {
    try {
      beep(result);
    } catch (e) {
      /* no sound is not an error */
    }
    try {
      if (navigator.vibrate) navigator.vibrate(VIBRATION[result] || VIBRATION.rejected);
    } catch (e) {
      /* no vibration either */
    }
  }

  T.feedback = { unlock, signal };
  document.addEventListener("pointerdown", unlock, { passive: true });
  document.addEventListener("keydown", unlock);
})();
