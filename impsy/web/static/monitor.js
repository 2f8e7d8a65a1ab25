// The live monitor: one lane per control with the performer's input, IMPSY's output and what the
// model expects next (a band per mixture component, its strength the component's weight), on one
// time axis: the last 10 seconds up to now, and a second beyond for the forecast.
"use strict";

(function () {
  const PAST = 10; // seconds shown before now on a wide screen
  const PAST_NARROW = 4; // on a phone: fewer seconds, so a gesture is wide enough to read
  const AHEAD = 1; // seconds shown after now: where the forecast points
  const HOLD = 1; // a value is drawn held until the next event, for at most this long: gaps stay gaps
  const SPREADS = 2; // the band is mean ± this many spreads
  const AXIS = 22; // px (CSS) under the lanes for the time axis
  const COLOURS = ["#4fc3f7", "#ffb74d", "#81c784", "#f06292", "#ba68c8", "#fff176", "#4db6ac",
    "#ff8a65", "#9fa8da", "#aed581", "#e0e0e0", "#e57373"];
  const colour = (i) => COLOURS[i % COLOURS.length];

  const canvas = document.querySelector("[data-mind-plot]");
  if (!canvas) return;
  const legend = document.querySelector("[data-controls]");
  const waiting = document.querySelector("[data-waiting]");
  const nextDt = document.querySelector("[data-next-dt]");
  let names = Array.from(legend.querySelectorAll(".name"), (el) => el.textContent);
  const data = { in: [], out: [], forecast: [] }; // [time, values] in the server's clock
  let offset = null; // server clock minus page clock, in seconds
  let dirty = true;

  const pageNow = () => performance.now() / 1000;

  function paintLegend() {
    legend.querySelectorAll("li").forEach((li, i) => li.style.setProperty("--c", colour(i)));
  }

  // A config without names (none, or invalid): name the controls by position once data arrives.
  function ensureNames(n) {
    if (names.length === n) return;
    legend.innerHTML = "";
    names = [];
    for (let i = 0; i < n; i++) {
      const li = document.createElement("li");
      li.innerHTML = '<span class="swatch"></span><span class="name"></span> <span class="values">' +
        '<span data-value="in">-</span> → <span data-value="out">-</span></span>';
      li.querySelector(".name").textContent = "control " + (i + 1);
      legend.appendChild(li);
      names.push("control " + (i + 1));
    }
    paintLegend();
  }

  function showLatest(kind, values) {
    ensureNames(values.length);
    legend.querySelectorAll(`[data-value="${kind}"]`).forEach((el, i) => {
      el.textContent = values[i] === undefined ? "-" : values[i].toFixed(3);
    });
  }

  // A forecast as sent: [K, dt, K weights, K x n means, K x n spreads].
  function parseForecast(v) {
    const k = v[0];
    const n = (v.length - 2 - k) / (2 * k);
    const at = (start, c) => Array.from({ length: k }, (_, j) => v[start + j * n + c]);
    return {
      dt: v[1],
      weights: v.slice(2, 2 + k),
      n,
      mean: (c) => at(2 + k, c),
      spread: (c) => at(2 + k + k * n, c),
    };
  }

  document.addEventListener("impsy-vectors", (event) => {
    const batch = event.detail;
    for (const kind of Object.keys(data)) {
      const items = batch[kind] || [];
      if (!items.length) continue;
      offset = items[items.length - 1][0] - pageNow();
      for (const [t, values] of items) data[kind].push([t, kind === "forecast" ? parseForecast(values) : values]);
      if (kind !== "forecast") showLatest(kind, items[items.length - 1][1]);
      waiting.hidden = true;
      dirty = true;
    }
  });

  function size(lanes) {
    const ratio = window.devicePixelRatio || 1;
    const narrow = canvas.clientWidth < 600;
    const lane = Math.max(narrow ? 44 : 56, Math.min(narrow ? 64 : 84, 480 / Math.max(lanes, 1)));
    const cssHeight = Math.round(lanes * lane + AXIS);
    if (canvas.style.height !== cssHeight + "px") canvas.style.height = cssHeight + "px";
    const w = Math.round(canvas.clientWidth * ratio);
    const h = Math.round(cssHeight * ratio);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    return { ratio, w, h, lane: lane * ratio, axis: AXIS * ratio };
  }

  function draw() {
    const lanes = names.length || 1;
    const g = size(lanes);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, g.w, g.h);
    const now = offset === null ? 0 : pageNow() + offset;
    const past = g.w / g.ratio < 600 ? PAST_NARROW : PAST;
    const x = (t) => ((t - (now - past)) / (past + AHEAD)) * g.w;
    const nowX = x(now);
    canvas.dataset.nowX = String(Math.round(nowX / g.ratio)); // for tests: where the future starts
    canvas.dataset.lane = String(Math.round(g.lane / g.ratio));

    for (const kind of Object.keys(data)) {
      const list = data[kind];
      while (list.length > 1 && list[1][0] < now - PAST - HOLD) list.shift(); // kept for a wider window
    }
    const forecasts = data.forecast;
    const latest = forecasts.length ? forecasts[forecasts.length - 1] : null;

    for (let i = 0; i < lanes; i++) {
      const top = i * g.lane;
      const pad = 3 * g.ratio;
      const y = (v) => top + pad + (1 - Math.max(0, Math.min(1, v))) * (g.lane - 2 * pad);
      ctx.fillStyle = i % 2 ? "#161b21" : "#1b2027";
      ctx.fillRect(0, top, g.w, g.lane);
      ctx.fillStyle = "rgba(255,255,255,0.035)";
      ctx.fillRect(nowX, top, g.w - nowX, g.lane); // the future
      drawBands(ctx, forecasts, i, x, y, now, g);
      drawLine(ctx, data.in, i, x, y, now, colour(i), [], g.ratio);
      drawLine(ctx, data.out, i, x, y, now, "#f5f7fa", [5 * g.ratio, 4 * g.ratio], g.ratio);
      // The name inside its lane, on a backing that keeps it readable over the lines.
      ctx.font = `${12 * g.ratio}px system-ui, sans-serif`;
      const label = names[i] || "";
      ctx.fillStyle = "rgba(17,20,24,0.75)";
      ctx.fillRect(2 * g.ratio, top + 2 * g.ratio, ctx.measureText(label).width + 8 * g.ratio, 16 * g.ratio);
      ctx.fillStyle = colour(i);
      ctx.fillText(label, 6 * g.ratio, top + 14 * g.ratio);
    }

    // Now, and when the model expects the next event.
    ctx.strokeStyle = "#a4adb8";
    ctx.lineWidth = g.ratio;
    ctx.setLineDash([]);
    ctx.beginPath(); ctx.moveTo(nowX, 0); ctx.lineTo(nowX, lanes * g.lane); ctx.stroke();
    if (latest) {
      const due = x(latest[0] + latest[1].dt);
      if (due <= g.w) {
        ctx.strokeStyle = "#f5f7fa";
        ctx.setLineDash([2 * g.ratio, 3 * g.ratio]);
        ctx.beginPath(); ctx.moveTo(due, 0); ctx.lineTo(due, lanes * g.lane); ctx.stroke();
        ctx.setLineDash([]);
      }
      const wait = latest[0] + latest[1].dt - now;
      nextDt.textContent = wait > 0 ? `in ${wait.toFixed(2)} s` : `${latest[1].dt.toFixed(2)} s after the last one`;
    }
    drawAxis(ctx, x, now, past, lanes * g.lane, g);
  }

  function drawBands(ctx, forecasts, c, x, y, now, g) {
    const minHeight = 4 * g.ratio; // a confident model's band is still seen
    forecasts.forEach(([t, f], j) => {
      if (c >= f.n) return;
      const end = j + 1 < forecasts.length ? forecasts[j + 1][0] : now + AHEAD;
      const x0 = x(t);
      const x1 = x(end);
      if (x1 < 0) return;
      const means = f.mean(c);
      const spreads = f.spread(c);
      f.weights.forEach((w, k) => {
        if (w < 0.02) return;
        const hi = y(means[k] + SPREADS * spreads[k]);
        const lo = y(means[k] - SPREADS * spreads[k]);
        const mid = (hi + lo) / 2;
        const height = Math.max(lo - hi, minHeight);
        ctx.globalAlpha = 0.2 + 0.6 * w;
        ctx.fillStyle = colour(c);
        ctx.fillRect(x0, mid - height / 2, Math.max(x1 - x0, 1), height);
      });
    });
    ctx.globalAlpha = 1;
  }

  // Events close together are joined; after the last one before a silence the value is held for
  // at most HOLD seconds and the line stops: a silence is a gap, not a line across it.
  function drawLine(ctx, points, c, x, y, now, stroke, dash, ratio) {
    ctx.strokeStyle = stroke;
    ctx.fillStyle = stroke;
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash(dash);
    ctx.beginPath();
    points.forEach(([t, values], j) => {
      const v = values[c];
      if (v === undefined) return;
      const next = j + 1 < points.length ? points[j + 1] : null;
      if (j > 0 && t - points[j - 1][0] <= HOLD) ctx.lineTo(x(t), y(v));
      else ctx.moveTo(x(t), y(v));
      if (!next || next[0] - t > HOLD) {
        ctx.lineTo(x(Math.min(t + HOLD, now)), y(v));
        ctx.fillRect(x(t) - ratio, y(v) - ratio, 2 * ratio, 2 * ratio); // a lone event still shows
      }
    });
    ctx.stroke();
    ctx.setLineDash([]);
  }

  function drawAxis(ctx, x, now, past, top, g) {
    ctx.fillStyle = "#a4adb8";
    ctx.strokeStyle = "#313a46";
    ctx.font = `${11 * g.ratio}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    for (let s = -past; s <= AHEAD; s += 1) {
      const at = x(now + s);
      ctx.beginPath(); ctx.moveTo(at, top); ctx.lineTo(at, top + 4 * g.ratio); ctx.stroke();
      const label = s === 0 ? "now" : `${s > 0 ? "+" : ""}${s} s`;
      if (at > 12 * g.ratio && at < g.w - 12 * g.ratio) ctx.fillText(label, at, top + 16 * g.ratio);
    }
    ctx.textAlign = "start";
  }

  paintLegend();
  let last = 0;
  function frame(ms) {
    // 30 frames a second are plenty to read, and spare a phone's battery.
    if (!document.hidden && (dirty || offset !== null) && ms - last >= 33) {
      draw();
      dirty = false;
      last = ms;
    }
    requestAnimationFrame(frame);
  }
  draw();
  requestAnimationFrame(frame);
})();
