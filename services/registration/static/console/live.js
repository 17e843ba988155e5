// Tomoni organizer console: the live board (/console/events/<slug>/live).
//
// Fills the page from the event's live stream (Server-Sent Events, `event: snapshot`).
// Every snapshot replaces everything shown, so the first one after a reconnection shows
// the truth again. While the stream is down (the browser's EventSource retries by itself)
// or the server says the bus is down (`event: status` with connected=false), the board
// says it is reconnecting until the next snapshot arrives. The snapshots hold counts only;
// this script adds no personal data (the page may be on a projector).
//
// Loaded as a file: the CSP allows no inline script, and no inline style attribute either
// (sizes are set through element.style, which the CSP allows).
(function () {
  "use strict";

  var board = document.getElementById("board");
  if (!board) return;

  var S = JSON.parse(board.getAttribute("data-strings"));
  var LANGUAGE_NAMES = JSON.parse(board.getAttribute("data-language-names"));
  var lang = board.getAttribute("data-lang");
  var locale = board.getAttribute("data-locale") || lang;
  var zone = board.getAttribute("data-timezone") || "Asia/Tokyo";
  var opensAt = Date.parse(board.getAttribute("data-starts"));
  var closesAt = Date.parse(board.getAttribute("data-ends"));
  var silentMs = Number(board.getAttribute("data-silent-minutes")) * 60000;
  var lowStock = Number(board.getAttribute("data-low-stock"));
  var streamUrl = board.getAttribute("data-stream");
  var rallyUrl = board.getAttribute("data-rally");

  function intl(make, fallback) {
    try {
      return make(locale);
    } catch (e) {
      return make(fallback);
    }
  }
  var numbers = intl(function (l) { return new Intl.NumberFormat(l); }, "ja");
  var clock = intl(function (l) {
    return new Intl.DateTimeFormat(l, {
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone,
    });
  }, "ja");
  var hourMinute = intl(function (l) {
    return new Intl.DateTimeFormat(l, { hour: "2-digit", minute: "2-digit", timeZone: zone });
  }, "ja");
  var displayNames = null;
  try {
    displayNames = new Intl.DisplayNames([locale], { type: "language" });
  } catch (e) {
    displayNames = null;
  }

  // -- small helpers ------------------------------------------------------------------
  function fmt(n) {
    return typeof n === "number" && isFinite(n) ? numbers.format(n) : "–";
  }

  function fill(text, params) {
    return text.replace(/%\((\w+)\)s/g, function (_, key) {
      return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : "";
    });
  }

  function languageName(code) {
    if (displayNames) {
      try {
        var name = displayNames.of(code);
        if (name && name !== code) return name;
      } catch (e) {
        // not a language code (an interpreter answer such as "sign"): shown as it is
      }
    }
    return LANGUAGE_NAMES[code] || code;
  }

  function pickName(text, fallback) {
    if (!text) return fallback;
    var order = [lang, "ja", "en"];
    for (var i = 0; i < order.length; i++) {
      if (text[order[i]]) return text[order[i]];
    }
    for (var key in text) {
      if (text[key]) return text[key];
    }
    return fallback;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function entries(obj) {
    return obj ? Object.keys(obj).map(function (k) { return [k, obj[k]]; }) : [];
  }

  function sum(obj) {
    return entries(obj).reduce(function (total, kv) {
      return total + (typeof kv[1] === "number" ? kv[1] : 0);
    }, 0);
  }

  function byCountThenName(a, b) {
    return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  }

  function q(selector) {
    return board.querySelector(selector);
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(board).getPropertyValue(name).trim();
    return value || fallback;
  }

  // -- connection state -----------------------------------------------------------------
  var statusEl = q("[data-status]");
  var updatedEl = q("[data-updated]");
  var endedEl = q("[data-ended]");

  function setState(state) {
    board.setAttribute("data-state", state);
    var text = { live: S.live, reconnecting: S.reconnecting, ended: S.stopped }[state];
    statusEl.textContent = text || S.connecting;
    endedEl.hidden = state !== "ended";
  }

  // -- the snapshot's numbers -----------------------------------------------------------
  var last = null; // the latest snapshot
  var skew = 0; // the server's clock minus this one, from each snapshot's `at`

  function derived(snap) {
    var reg = snap.registration;
    var rally = snap.stamprally;
    var values = {};
    if (reg) {
      values["registration.places_left"] = Math.max(0, reg.capacity - reg.registered_people);
      values["registration.of_capacity"] = fill(S.of_capacity, { n: fmt(reg.capacity) });
    }
    if (rally) {
      values["stamprally.stamps"] = sum(rally.stamps_by_booth);
      values["stamprally.prizes_left_total"] = sum(rally.prizes_left);
    }
    return values;
  }

  function lookup(snap, extra, path) {
    if (Object.prototype.hasOwnProperty.call(extra, path)) return extra[path];
    var dot = path.indexOf(".");
    var part = snap[path.slice(0, dot)];
    return part ? part[path.slice(dot + 1)] : undefined;
  }

  function renderValues(snap) {
    var extra = derived(snap);
    board.querySelectorAll("[data-value]").forEach(function (node) {
      var value = lookup(snap, extra, node.getAttribute("data-value"));
      node.textContent = fmt(value);
      var tile = node.closest(".tile");
      if (tile && tile.classList.contains("alert-when-any")) {
        tile.classList.toggle("alert", typeof value === "number" && value > 0);
      }
    });
    board.querySelectorAll("[data-value-text]").forEach(function (node) {
      var value = lookup(snap, extra, node.getAttribute("data-value-text"));
      node.textContent = typeof value === "string" ? value : "";
    });
    board.querySelectorAll("[data-part]").forEach(function (section) {
      var missing = !snap[section.getAttribute("data-part")];
      section.classList.toggle("is-missing", missing);
      var note = section.querySelector("[data-missing]");
      if (note) note.hidden = !missing;
    });
    board.querySelectorAll("[data-optional]").forEach(function (node) {
      node.hidden = lookup(snap, extra, node.getAttribute("data-optional")) === undefined;
    });
  }

  function cells(row, values) {
    values.forEach(function (v) {
      var cell = el(v.header ? "th" : "td", v.className !== undefined ? v.className : "num");
      if (v.header) cell.setAttribute("scope", "row");
      if (v.cell) cell.setAttribute("data-cell", v.cell);
      if (v.node) cell.appendChild(v.node);
      else cell.textContent = v.text;
      if (v.after) cell.appendChild(v.after);
      row.appendChild(cell);
    });
    return row;
  }

  function replaceRows(name, rows) {
    var body = q('[data-rows="' + name + '"]');
    body.replaceChildren.apply(body, rows);
    var empty = q('[data-empty="' + name + '"]');
    if (empty) empty.hidden = rows.length > 0;
    var wrap = body.closest("[data-hide-when-empty]");
    if (wrap) wrap.hidden = rows.length === 0;
  }

  // Categories: the rows are the event's categories, written by the server with their
  // titles; a category added since the page was loaded gets a row with its code.
  function renderCategories(reg) {
    var body = q('[data-rows="categories"]');
    var seen = {};
    entries(reg ? reg.by_category : null).forEach(function (kv) {
      var code = kv[0];
      var c = kv[1];
      seen[code] = true;
      var row = body.querySelector('[data-category="' + CSS.escape(code) + '"]');
      if (!row) {
        row = el("tr");
        row.setAttribute("data-category", code);
        var bar = el("span", "fill-bar");
        bar.setAttribute("data-cell", "fill");
        var track = el("span", "fill");
        track.setAttribute("aria-hidden", "true");
        track.appendChild(bar);
        cells(row, [
          { header: true, className: "", node: el("span", "code", code), after: track },
          { cell: "registered" }, { cell: "left" }, { cell: "waiting" }, { cell: "pending" },
        ]);
        body.appendChild(row);
      }
      row.querySelector('[data-cell="registered"]').textContent =
        fmt(c.registered_people) + " / " + fmt(c.capacity);
      row.querySelector('[data-cell="left"]').textContent =
        fmt(Math.max(0, c.capacity - c.registered_people));
      row.querySelector('[data-cell="waiting"]').textContent = fmt(c.waitlist_people);
      row.querySelector('[data-cell="pending"]').textContent = fmt(c.pending_review);
      var share = c.capacity > 0 ? Math.min(1, c.registered_people / c.capacity) : 0;
      var bar = row.querySelector('[data-cell="fill"]');
      bar.style.width = (share * 100).toFixed(1) + "%";
      row.classList.toggle("full", c.capacity > 0 && c.registered_people >= c.capacity);
    });
    body.querySelectorAll("[data-category]").forEach(function (row) {
      if (seen[row.getAttribute("data-category")]) return;
      row.querySelectorAll("td").forEach(function (td) { td.textContent = "–"; });
    });
  }

  // Gates, with a warning for one that has admitted or let out nobody for a while during
  // the event's hours (a phone offline or flat). Silence makes no snapshot, so this is also
  // run on a timer against the server's clock.
  function silentMinutes(gate) {
    if (!gate.last_scan_at) return 0;
    var now = Date.now() + skew;
    if (!(now >= opensAt && now <= closesAt)) return 0;
    var quiet = now - Date.parse(gate.last_scan_at);
    return quiet > silentMs ? Math.floor(quiet / 60000) : 0;
  }

  function renderGates(checkin) {
    var rows = entries(checkin ? checkin.by_gate : null)
      .sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; })
      .map(function (kv) {
        var gate = kv[1];
        var row = el("tr");
        row.setAttribute("data-gate", kv[0]);
        var when = gate.last_scan_at ? hourMinute.format(new Date(gate.last_scan_at)) : "–";
        var quiet = silentMinutes(gate);
        var warning = null;
        if (quiet) {
          row.classList.add("silent");
          warning = el("strong", "board-flag warn", fill(S.silent, { n: fmt(quiet) }));
          warning.setAttribute("data-flag", "silent");
        }
        return cells(row, [
          { header: true, className: "", text: kv[0] },
          { cell: "admitted_people", text: fmt(gate.admitted_people) },
          { cell: "inside_people", text: fmt(gate.inside_people) },
          { cell: "scans_last_minute", text: fmt(gate.scans_last_minute) },
          { cell: "last_scan", className: "", text: when + " ", after: warning },
        ]);
      });
    replaceRows("gates", rows);
  }

  // -- charts (uPlot) -------------------------------------------------------------------
  var charts = {};

  function chartFont(px) {
    var family = getComputedStyle(board).fontFamily || "sans-serif";
    return px + "px " + family;
  }

  function axisStyle() {
    var big = board.classList.contains("projector");
    return {
      stroke: cssVar("--chart-ink", "#1b1f24"),
      font: chartFont(big ? 20 : 13),
      grid: { stroke: cssVar("--chart-grid", "#dde2e8"), width: 1 },
      ticks: { stroke: cssVar("--chart-grid", "#dde2e8"), width: 1 },
    };
  }

  function drawChart(name, make, data, height) {
    var box = q('[data-chart="' + name + '"]');
    var width = Math.max(200, Math.floor(box.getBoundingClientRect().width));
    var chart = charts[name];
    if (chart && chart.key === make.key && chart.height === height) {
      chart.plot.setData(data);
      if (chart.width !== width) chart.plot.setSize({ width: width, height: height });
      chart.width = width;
      return;
    }
    if (chart) chart.plot.destroy();
    box.replaceChildren();
    charts[name] = {
      key: make.key,
      width: width,
      height: height,
      plot: new uPlot(make.options(width, height), data, box),
    };
  }

  // A bucket's "HH:MM" (the event's local time) as minutes after midnight.
  function minutesOf(key) {
    var found = /(\d{1,2}):(\d{2})$/.exec(key);
    return found ? Number(found[1]) * 60 + Number(found[2]) : NaN;
  }

  function hhmm(minutes) {
    var h = Math.floor(minutes / 60) % 24;
    var m = minutes % 60;
    return (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }

  function renderArrivals(checkin) {
    var note = q('[data-note="arrivals"]');
    var box = q('[data-chart="arrivals"]');
    var buckets = checkin ? checkin.arrivals_by_5min : undefined;
    if (!buckets || typeof window.uPlot === "undefined") return;
    var points = entries(buckets)
      .map(function (kv) { return [minutesOf(kv[0]), kv[1]]; })
      .filter(function (p) { return isFinite(p[0]); })
      .sort(function (a, b) { return a[0] - b[0]; });
    if (!points.length) {
      note.textContent = S.no_arrivals;
      box.hidden = true;
      return;
    }
    box.hidden = false;
    var peak = points.reduce(function (best, p) { return p[1] > best[1] ? p : best; });
    note.textContent = fill(S.peak, { time: hhmm(peak[0]), n: fmt(peak[1]) });
    // Every 5 minutes from the first arrival to the last, quiet ones as zero.
    var xs = [];
    var ys = [];
    var have = {};
    points.forEach(function (p) { have[p[0]] = p[1]; });
    for (var t = points[0][0]; t <= points[points.length - 1][0]; t += 5) {
      xs.push(t);
      ys.push(have[t] || 0);
    }
    var big = board.classList.contains("projector");
    drawChart("arrivals", {
      key: "arrivals",
      options: function (width, height) {
        var axis = axisStyle();
        return {
          width: width,
          height: height,
          legend: { show: false },
          cursor: { show: false },
          select: { show: false },
          scales: {
            x: {
              time: false,
              // At least an hour wide, so one busy bucket is not one huge bar.
              range: function (u, min, max) { return [min - 5, Math.max(max + 5, min + 60)]; },
            },
            y: { range: function (u, min, max) { return [0, Math.max(4, Math.ceil(max * 1.15))]; } },
          },
          axes: [
            Object.assign({}, axis, {
              values: function (u, splits) { return splits.map(function (v) { return hhmm(v); }); },
              incrs: [5, 10, 15, 30, 60, 120, 180],
              space: big ? 90 : 60,
            }),
            Object.assign({}, axis, {
              values: function (u, splits) { return splits.map(function (v) { return fmt(v); }); },
              incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
              size: big ? 70 : 50,
            }),
          ],
          series: [
            {},
            {
              width: 0,
              fill: cssVar("--chart-bar", "#0a58a8"),
              points: { show: false },
              paths: uPlot.paths.bars({ size: [0.8, 80] }),
            },
          ],
        };
      },
    }, [xs, ys], big ? 190 : 220);
  }

  function renderBooths(rally) {
    var booths = entries(rally ? rally.stamps_by_booth : null);
    var note = q('[data-note="booths"]');
    var box = q('[data-chart="booths"]');
    q('[data-empty="rally"]').hidden = !rally || booths.length > 0;
    var max = -1;
    var min = Infinity;
    booths.forEach(function (kv) {
      max = Math.max(max, kv[1]);
      min = Math.min(min, kv[1]);
    });
    var spread = booths.length > 1 && max > min;
    var rows = booths.map(function (kv) {
      var row = el("tr");
      row.setAttribute("data-booth", kv[0]);
      var flag = null;
      if (spread && kv[1] === max) flag = el("span", "board-flag busiest", S.busiest);
      else if (spread && kv[1] === min) flag = el("span", "board-flag emptiest", S.emptiest);
      if (flag) flag.setAttribute("data-flag", kv[1] === max ? "busiest" : "emptiest");
      var name = el("span", "", boothName(kv[0]));
      return cells(row, [
        { header: true, className: "", node: name, after: flag },
        { cell: "stamps", text: fmt(kv[1]) },
      ]);
    });
    replaceRows("booths", rows);
    if (!booths.length) {
      note.textContent = "";
      box.hidden = true;
      return;
    }
    box.hidden = false;
    var top = booths.slice().sort(byCountThenName);
    note.textContent = spread
      ? S.busiest + ": " + boothName(top[0][0]) + " (" + fmt(top[0][1]) + ") · " +
        S.emptiest + ": " + boothName(top[top.length - 1][0]) + " (" +
        fmt(top[top.length - 1][1]) + ")"
      : "";
    if (typeof window.uPlot === "undefined") return;
    var big = board.classList.contains("projector");
    var labels = booths.map(function (kv) { return boothName(kv[0]); });
    var xs = booths.map(function (kv, i) { return i; });
    var ys = booths.map(function (kv) { return kv[1]; });
    var colors = booths.map(function (kv) {
      if (spread && kv[1] === max) return cssVar("--chart-busiest", "#1d6b35");
      if (spread && kv[1] === min) return cssVar("--chart-emptiest", "#b27c00");
      return cssVar("--chart-bar", "#0a58a8");
    });
    var font = chartFont(big ? 20 : 13);
    var measure = document.createElement("canvas").getContext("2d");
    measure.font = font;
    var labelWidth = labels.reduce(function (w, text) {
      return Math.max(w, measure.measureText(text).width);
    }, 40);
    var row = big ? 30 : 28;
    var axisHeight = big ? 52 : 38;
    var ink = cssVar("--chart-ink", "#1b1f24");
    drawChart("booths", {
      key: "booths:" + labels.join("\u0000") + ":" + colors.join(","),
      options: function (width, height) {
        var axis = axisStyle();
        return {
          width: width,
          height: height,
          legend: { show: false },
          cursor: { show: false },
          select: { show: false },
          // Bars across: the booths' names read on the left, however many there are.
          scales: {
            x: { time: false, ori: 1, dir: -1, range: [-0.5, labels.length - 0.5] },
            y: {
              ori: 0,
              dir: 1,
              // Room at the end for the numbers written after the bars.
              range: function (u, lo, hi) { return [0, Math.max(4, Math.ceil(hi * 1.18))]; },
            },
          },
          axes: [
            Object.assign({}, axis, {
              side: 3,
              grid: { show: false },
              ticks: { show: false },
              size: Math.ceil(labelWidth) + 16,
              splits: function () { return xs; },
              values: function (u, splits) {
                return splits.map(function (i) { return labels[i] || ""; });
              },
            }),
            Object.assign({}, axis, {
              side: 2,
              size: axisHeight,
              incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
              values: function (u, splits) { return splits.map(function (v) { return fmt(v); }); },
            }),
          ],
          series: [
            {},
            {
              width: 0,
              fill: cssVar("--chart-bar", "#0a58a8"),
              points: { show: false },
              paths: uPlot.paths.bars({
                size: [0.7, 60],
                disp: { fill: { unit: 3, values: function () { return colors; } } },
              }),
            },
          ],
          hooks: {
            // Each booth's count after its bar: read from the back of a hall, no hovering.
            draw: [
              function (u) {
                var ratio = uPlot.pxRatio || 1;
                var ctx = u.ctx;
                ctx.save();
                ctx.font = chartFont(Math.round((big ? 20 : 13) * ratio));
                ctx.fillStyle = ink;
                ctx.textAlign = "left";
                ctx.textBaseline = "middle";
                u.data[1].forEach(function (v, i) {
                  ctx.fillText(fmt(v), u.valToPos(v, "y", true) + 6 * ratio, u.valToPos(i, "x", true));
                });
                ctx.restore();
              },
            ],
          },
        };
      },
    }, [xs, ys], booths.length * row + axisHeight + 8);
  }

  function renderPrizes(rally) {
    var rows = entries(rally ? rally.prizes_left : null).map(function (kv) {
      var row = el("tr");
      row.setAttribute("data-prize", kv[0]);
      var left = kv[1];
      var flag = null;
      if (left <= 0) {
        flag = el("strong", "board-flag danger", S.out_of_stock);
        flag.setAttribute("data-flag", "out");
      } else if (left < lowStock) {
        flag = el("strong", "board-flag warn", fill(S.low_stock, { n: fmt(lowStock) }));
        flag.setAttribute("data-flag", "low");
      }
      if (flag) row.classList.add(left <= 0 ? "out" : "low");
      return cells(row, [
        { header: true, className: "", node: el("span", "", prizeName(kv[0])), after: flag },
        { cell: "left", text: fmt(left) },
      ]);
    });
    replaceRows("prizes", rows);
  }

  // Booth and prize names come from the rally's public description (asked once, and again
  // when a code appears that it did not have); until then, and if it cannot be had, codes.
  var rallyNames = { booths: {}, prizes: {} };
  var namesAsked = "";

  function boothName(code) {
    return pickName(rallyNames.booths[code], code);
  }

  function prizeName(code) {
    return pickName(rallyNames.prizes[code], code);
  }

  function askNames(rally) {
    if (!rally || !rallyUrl || !window.fetch) return;
    var codes = Object.keys(rally.stamps_by_booth || {})
      .concat(Object.keys(rally.prizes_left || {}));
    var unknown = codes.filter(function (c) {
      return !rallyNames.booths[c] && !rallyNames.prizes[c];
    });
    var key = unknown.sort().join(",");
    if (!unknown.length || key === namesAsked) return;
    namesAsked = key;
    fetch(rallyUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (rally) {
        if (!rally) return;
        (rally.booths || []).forEach(function (b) { rallyNames.booths[b.code] = b.name; });
        (rally.prizes || []).forEach(function (p) { rallyNames.prizes[p.code] = p.name; });
        if (last) {
          renderBooths(last.stamprally);
          renderPrizes(last.stamprally);
        }
      })
      .catch(function () { /* codes stay */ });
  }

  function renderCounts(name, counts, label) {
    var rows = entries(counts).sort(byCountThenName).map(function (kv) {
      var row = el("tr");
      row.setAttribute("data-" + name, kv[0]);
      var text = el("span", "", label(kv[0]));
      return cells(row, [
        { header: true, className: "", node: text },
        { cell: "count", text: fmt(kv[1]) },
      ]);
    });
    replaceRows(name === "language" ? "languages" : "interpreters", rows);
  }

  function render(snap) {
    last = snap;
    var at = Date.parse(snap.at);
    if (isFinite(at)) skew = at - Date.now();
    renderValues(snap);
    renderCategories(snap.registration);
    renderGates(snap.checkin);
    renderArrivals(snap.checkin);
    renderBooths(snap.stamprally);
    renderPrizes(snap.stamprally);
    askNames(snap.stamprally);
    var reg = snap.registration;
    renderCounts("language", reg ? reg.languages : null, languageName);
    renderCounts("interpreter", reg ? reg.interpreter_requests : null, languageName);
    updatedEl.textContent = isFinite(at) ? fill(S.updated, { time: clock.format(new Date(at)) }) : "";
  }

  // -- the stream -----------------------------------------------------------------------
  var source = null;
  var retryDelay = 1000;

  function connect() {
    source = new EventSource(streamUrl);
    source.addEventListener("snapshot", function (e) {
      var snap;
      try {
        snap = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      retryDelay = 1000;
      setState("live");
      render(snap);
    });
    source.addEventListener("status", function (e) {
      try {
        if (JSON.parse(e.data).connected === false) setState("reconnecting");
      } catch (err) {
        // a status we cannot read changes nothing
      }
    });
    source.addEventListener("error", function () {
      if (board.getAttribute("data-state") !== "ended") setState("reconnecting");
      // The browser retries a dropped stream by itself, but gives up on an answer that is
      // not a stream (a restart's 502, or 401/403 once the session has ended): find out.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        probe();
      }
    });
  }

  function retryLater() {
    window.setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function probe() {
    if (!window.fetch || !window.AbortController) {
      retryLater();
      return;
    }
    var abort = new AbortController();
    fetch(streamUrl, { credentials: "same-origin", signal: abort.signal })
      .then(function (r) {
        abort.abort();
        if (r.status === 401 || r.status === 403) setState("ended");
        else retryLater();
      })
      .catch(function () { retryLater(); });
  }

  // -- page tools -----------------------------------------------------------------------
  var fullscreen = q("[data-fullscreen]");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.hidden = false;
    fullscreen.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(function () {});
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (!last) return;
      renderArrivals(last.checkin);
      renderBooths(last.stamprally);
    }, 150);
  });

  // A gate goes silent without any snapshot saying so.
  window.setInterval(function () {
    if (last) renderGates(last.checkin);
  }, 15000);

  setState("connecting");
  connect();
})();
