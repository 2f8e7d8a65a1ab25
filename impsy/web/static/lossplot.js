// The loss plot of a training run, drawn from its epoch events as they arrive (no library).
"use strict";

// epochs: [{epoch, epochs, loss, val_loss, best_epoch}, ...] in order.
window.impsyLossPlot = function (canvas, epochs) {
  const ratio = window.devicePixelRatio || 1;
  const w = (canvas.width = Math.round(canvas.clientWidth * ratio));
  const h = (canvas.height = Math.round(canvas.clientHeight * ratio));
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const finite = (v) => v != null && isFinite(v);
  const values = epochs.flatMap((e) => [e.loss, e.val_loss]).filter(finite);
  if (!values.length) return;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const pad = 36 * ratio;
  const last = epochs[epochs.length - 1];
  const span = Math.max(last.epoch, 2);
  const x = (epoch) => pad + ((epoch - 1) / (span - 1)) * (w - pad * 1.5);
  const y = (v) => h - pad - ((v - lo) / (hi - lo)) * (h - pad * 1.6);
  ctx.fillStyle = "#a4adb8";
  ctx.font = `${12 * ratio}px system-ui, sans-serif`;
  ctx.fillText(hi.toFixed(2), 2, y(hi) + 4 * ratio);
  ctx.fillText(lo.toFixed(2), 2, y(lo));
  ctx.fillText("epoch " + last.epoch + " of " + last.epochs, w - 110 * ratio, h - 8 * ratio);
  const colours = { loss: "#4fc3f7", val_loss: "#ffb74d" };
  for (const key of ["loss", "val_loss"]) {
    ctx.strokeStyle = colours[key];
    ctx.lineWidth = 2 * ratio;
    ctx.beginPath();
    let started = false;
    for (const e of epochs) {
      if (!finite(e[key])) continue;
      if (started) ctx.lineTo(x(e.epoch), y(e[key]));
      else { ctx.moveTo(x(e.epoch), y(e[key])); started = true; }
    }
    ctx.stroke();
  }
  // The best epoch is the one impsy-train keeps.
  const best = epochs.find((e) => e.epoch === last.best_epoch);
  if (best && finite(best.val_loss)) {
    ctx.fillStyle = colours.val_loss;
    ctx.beginPath();
    ctx.arc(x(best.epoch), y(best.val_loss), 5 * ratio, 0, 2 * Math.PI);
    ctx.fill();
  }
  canvas.dataset.epochsDrawn = String(epochs.length); // for tests and the curious
};
