/* The stamp rally's two scanner modes (API.md: Volunteer devices, Stamp rally set-up).
 *
 *   booth      – a scan stamps the attendee's card: POST /api/stamprally/stamps. Checked on
 *                the phone first and queued like a gate's scan (sync.js sends it), so a
 *                booth keeps stamping with no network.
 *   prize_desk – a scan hands out a prize: POST /api/stamprally/redemptions. Online only:
 *                a prize must never be given twice, and only the server can know.
 *
 * Also what the answers say (titles, details) and the rally's public description (booth
 * and prize names), kept on the phone. */
"use strict";
(function () {
  const T = (window.Tomoni = window.Tomoni || {});
  const STAMP_URL = "/api/stamprally/stamps";
  const REDEEM_URL = "/api/stamprally/redemptions";
  const REDEEM_TIMEOUT_MS = 8000;
  const REDEEM_RETRIES = [0, 700, 2000];
  // A redemption whose answer was lost is asked again with the SAME client_scan_id when
  // the same ticket is scanned again soon: the server then repeats its first answer
  // ("give: …") instead of "already given" for a prize the attendee never got.
  const UNANSWERED_REUSE_MS = 10 * 60 * 1000;

  const STAMP_RESULTS = ["stamped", "already_stamped"];
  const REDEEM_RESULTS = ["redeemed", "already_redeemed", "not_completed", "out_of_stock"];

  const online = () => navigator.onLine !== false;
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /* The rally's reasons that the entrance never gives (the others are the scan API's,
   * translated by the server: T.i18n.result). Functions, so the text is looked up in the
   * language chosen when it is shown. */
  const REASONS = {
    not_checked_in: () => T.t("This person has not checked in at the entrance yet."),
    rally_closed: () => T.t("The stamp rally is not open now."),
    wrong_booth: () => T.t("This scanner's booth is not in the stamp rally."),
    // Not the API's: the server refused the request itself (e.g. the pairing ended).
    request_refused: () => T.t("Something went wrong. Please try again."),
  };

  function reasonText(code) {
    if (REASONS[code]) return REASONS[code]();
    return T.i18n.result(code || "invalid_signature");
  }

  // -- the rally's description (public), for booth and prize names ------------------------
  function info() {
    const d = T.device();
    const kept = T.settings.get("rally");
    return kept && d && kept.event === d.event ? kept : null;
  }

  async function refresh(device) {
    if (!device || !online()) return;
    try {
      const r = await T.api("GET", `/api/stamprally/events/${encodeURIComponent(device.event)}/rally`);
      if (r.status === 200 && r.body && r.body.event === device.event) T.settings.set("rally", r.body);
    } catch (e) {
      /* kept copy, if any, stays */
    }
  }

  function named(list, code) {
    const found = (list || []).find((x) => x && x.code === code);
    return found ? T.result.pick(found.name) : "";
  }

  const boothName = (code) => named((info() || {}).booths, code);
  const prizeName = (prize) => {
    if (!prize) return "";
    return T.result.pick(prize.name) || named((info() || {}).prizes, prize.code) || prize.code || "";
  };

  /* How a place reads in the header: "Vietnam (vn)" when the rally names the booth. */
  function boothLabel(code) {
    const name = boothName(code);
    return name && name !== code ? `${name} (${code})` : code;
  }

  // -- what an answer says -------------------------------------------------------------------
  const handles = (result) =>
    STAMP_RESULTS.includes(result) || REDEEM_RESULTS.includes(result) || result === "network_needed";

  function colour(answer) {
    switch (answer.result) {
      case "stamped":
      case "redeemed":
        return "green";
      case "already_stamped":
      case "already_redeemed":
      case "not_completed":
        return "amber";
      case "network_needed":
        return "grey";
      default:
        return "red";
    }
  }

  /* Which sound: a completed card gets its own, the rest one per result. */
  function sound(answer) {
    if (answer.result === "stamped" && answer.completed) return "completed";
    return answer.result;
  }

  function title(answer, opts) {
    switch (answer.result) {
      case "stamped":
        if (opts.provisional || typeof answer.stamps !== "number") {
          return T.t("Stamp saved: it will be sent");
        }
        return T.t("Stamped — %(n)s of %(m)s", { n: answer.stamps, m: answer.required });
      case "already_stamped":
        return T.t("Already stamped here");
      case "redeemed":
        return T.t("Give: %(prize)s", { prize: prizeName(answer.prize) });
      case "already_redeemed":
        return T.t("Prize already given");
      case "not_completed":
        return T.t("Card not complete yet");
      case "out_of_stock":
        return T.t("No prizes left");
      case "network_needed":
        return T.t("Network needed");
      default:
        return reasonText(answer.reason);
    }
  }

  /* A line under the title that must not be missed, or "". */
  function note(answer) {
    if (STAMP_RESULTS.includes(answer.result) && answer.completed) {
      return T.t("Card complete! Send them to the goal desk");
    }
    if (answer.result === "network_needed") {
      return T.t("Prizes are given only online. Please connect and scan again.");
    }
    return "";
  }

  /* Details as [label, value] pairs. */
  function details(answer, zone) {
    const out = [];
    const attendee = answer.result === "rejected" ? null : answer.attendee;
    if (attendee && attendee.language) out.push([T.t("Language"), T.i18n.languageName(attendee.language)]);
    if (answer.result === "already_stamped" && typeof answer.stamps === "number") {
      out.push([T.t("Stamps"), `${answer.stamps} / ${answer.required}`]);
    }
    const missing = Array.isArray(answer.missing_booths) ? answer.missing_booths : [];
    if (missing.length && !answer.completed) {
      out.push([T.t("Booths still needed"), missing.map((c) => boothName(c) || c).join(", ")]);
    }
    if (answer.result === "already_redeemed") {
      out.push([T.t("Prize"), prizeName(answer.prize)]);
      if (answer.redeemed_at) out.push([T.t("Given at"), T.result.when(answer.redeemed_at, zone)]);
    }
    return out;
  }

  // -- a booth's stamp: the queued scan and its request ---------------------------------------
  /* What the stamp API takes: exactly these fields. */
  const stampBody = (scan) => ({ client_scan_id: scan.client_scan_id, qr_text: scan.qr_text });

  // -- the prize desk: online only -------------------------------------------------------------
  let unanswered = null; // {qr_text, client_scan_id, at} of a redemption with no answer

  /* Ask for a prize. Resolves {answer} (the server's), {status} (it refused the request:
   * 401/403/4xx), or {answer: null} when there was no answer (no network). Never queued. */
  async function redeem(qrText, token) {
    if (!online()) return { answer: null };
    let id = T.uuid();
    if (unanswered && unanswered.qr_text === qrText && Date.now() - unanswered.at < UNANSWERED_REUSE_MS) {
      id = unanswered.client_scan_id;
    }
    unanswered = { qr_text: qrText, client_scan_id: id, at: Date.now() };
    for (const delay of REDEEM_RETRIES) {
      if (delay) await wait(delay);
      if (!online()) break;
      let r;
      try {
        r = await T.api("POST", REDEEM_URL, { client_scan_id: id, qr_text: qrText }, token, REDEEM_TIMEOUT_MS);
      } catch (e) {
        continue; // no answer: the same id again
      }
      if (r.status === 200 && r.body && r.body.result) {
        unanswered = null;
        return { answer: r.body };
      }
      if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
        unanswered = null; // refused as a request: nothing was given
        return { answer: null, status: r.status };
      }
      // 408/429/5xx: try again with the same id
    }
    return { answer: null };
  }

  T.rally = {
    STAMP_URL,
    stampBody,
    handles,
    colour,
    sound,
    title,
    note,
    details,
    reasonText,
    info,
    refresh,
    boothName,
    boothLabel,
    prizeName,
    redeem,
  };
})();
