// The live monitor: bars for the latest values, a scrolling plot of the last 10 seconds.
"use strict";

(function () {
  const WINDOW = 10; // seconds shown
  const palette = (i, n) => `hsl(${Math.round((i * 360) / Math.max(n, 1) + 190) % 360}, 80%, 62%)`;
  const traces = {};
  let offset = null; // server clock minus page clock, in seconds

  document.querySelectorAll("[data-kind]").forEach((section) => {
    const kind = section.dataset.kind;
    traces[kind] = {
      points: [],
      bars: section.querySelector("[data-bars]"),
      canvas: section.querySelector("canvas"),
      width: 0,
    };
  });

  const pageNow = () => performance.now() / 1000;

  function makeBars(trace, n) {
    trace.bars.innerHTML = "";
    for (let i = 0; i < n; i++) {
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.setProperty("--c", palette(i, n));
      bar.innerHTML = '<div class="fill"></div><span class="value"></span><span class="label"></span>';
      bar.querySelector(".label").textContent = String(i + 1);
      trace.bars.appendChild(bar);
    }
    trace.width = n;
  }

  function showValues(trace, values) {
    if (trace.width !== values.length) makeBars(trace, values.length);
    const bars = trace.bars.children;
    values.forEach((v, i) => {
      const clipped = Math.max(0, Math.min(1, v));
      bars[i].querySelector(".fill").style.height = (clipped * 100).toFixed(1) + "%";
      bars[i].querySelector(".value").textContent = v.toFixed(3);
      bars[i].dataset.value = v.toFixed(3);
    });
  }

  document.addEventListener("impsy-vectors", (event) => {
    const batch = event.detail;
    for (const kind of Object.keys(traces)) {
      const items = batch[kind] || [];
      if (!items.length) continue;
      const trace = traces[kind];
      const [lastTime, lastValues] = items[items.length - 1];
      offset = lastTime - pageNow();
      for (const item of items) trace.points.push(item);
      showValues(trace, lastValues);
    }
  });

  function draw(trace) {
    const canvas = trace.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * ratio);
    const h = Math.round(canvas.clientHeight * ratio);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#313a46";
    ctx.lineWidth = 1;
    for (const y of [0.25, 0.5, 0.75]) {
      ctx.beginPath(); ctx.moveTo(0, h * y); ctx.lineTo(w, h * y); ctx.stroke();
    }
    if (offset === null || !trace.points.length) return;
    const now = pageNow() + offset;
    while (trace.points.length > 1 && trace.points[1][0] < now - WINDOW) trace.points.shift();
    const x = (t) => ((t - (now - WINDOW)) / WINDOW) * w;
    const y = (v) => h - Math.max(0, Math.min(1, v)) * (h - 4) - 2;
    const n = trace.width;
    ctx.lineWidth = 2 * ratio;
    for (let i = 0; i < n; i++) {
      ctx.strokeStyle = palette(i, n);
      ctx.beginPath();
      trace.points.forEach(([t, values], j) => {
        if (j === 0) ctx.moveTo(x(t), y(values[i]));
        else ctx.lineTo(x(t), y(values[i]));
      });
      const last = trace.points[trace.points.length - 1];
      ctx.lineTo(w, y(last[1][i])); // a control holds its value until it changes
      ctx.stroke();
    }
  }

  function frame() {
    if (!document.hidden) Object.values(traces).forEach(draw);
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
})();
