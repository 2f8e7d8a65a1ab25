// Following a job (building a dataset, training a model): progress, output and the loss plot.
"use strict";

(function () {
  const losses = []; // before anything that may call plot(): a finished job is replayed at once
  const box = document.querySelector("[data-job]");
  if (!box || !window.EventSource || box.dataset.jobState !== "running") {
    if (box) replayFinished(box);
    return;
  }
  follow(box);

  function replayFinished(box) {
    // A finished job: fetch its events once to draw the output and the plot.
    fetch("/api/jobs/" + box.dataset.job, { headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((job) => (job.events || []).forEach((e) => handle(box, e, false)))
      .catch(() => {});
  }

  function follow(box) {
    const source = new EventSource("/jobs/" + box.dataset.job + "/stream");
    for (const type of ["progress", "line", "epoch", "end"]) {
      source.addEventListener(type, (e) => {
        const event = JSON.parse(e.data);
        handle(box, event, true);
        if (type === "end") source.close();
      });
    }
  }

  function handle(box, event, live) {
    const message = box.querySelector("[data-job-message]");
    const progress = box.querySelector("[data-job-progress]");
    const output = box.querySelector("[data-job-output]");
    if (event.type === "progress") {
      progress.max = event.total;
      progress.value = event.done;
      message.textContent = `${event.done} of ${event.total}: ${event.message}`;
    } else if (event.type === "line" && output) {
      output.textContent += event.text + "\n";
      output.scrollTop = output.scrollHeight;
    } else if (event.type === "epoch") {
      progress.max = event.epochs;
      progress.value = event.epoch;
      message.textContent = `epoch ${event.epoch} of at most ${event.epochs}: loss ${event.loss.toFixed(3)}` +
        (event.val_loss == null ? "" : `, validation ${event.val_loss.toFixed(3)}`);
      losses.push(event);
      plot(box);
    } else if (event.type === "end") {
      message.textContent = event.message;
      progress.max = 1;
      progress.value = 1;
      box.dataset.jobState = event.state;
      const stop = box.querySelector("[data-job-stop]");
      if (stop) stop.closest("form").hidden = true;
      const done = box.querySelector("[data-job-done]");
      if (done && event.state === "done") done.hidden = false;
      if (live && document.body.dataset.page === "datasets") {
        sessionStorage.setItem("impsy-message", JSON.stringify({ text: event.message, kind: event.state === "done" ? "ok" : "error" }));
        location.href = "/datasets";
      }
    }
  }

  function plot(box) {
    const canvas = box.querySelector("[data-loss-plot]");
    if (!canvas) return;
    const ratio = window.devicePixelRatio || 1;
    const w = (canvas.width = Math.round(canvas.clientWidth * ratio));
    const h = (canvas.height = Math.round(canvas.clientHeight * ratio));
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const values = losses.flatMap((e) => [e.loss, e.val_loss]).filter((v) => v != null && isFinite(v));
    if (!values.length) return;
    let lo = Math.min(...values), hi = Math.max(...values);
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    const pad = 36 * ratio;
    const epochs = Math.max(losses[losses.length - 1].epoch, 2);
    const x = (epoch) => pad + ((epoch - 1) / (epochs - 1)) * (w - pad * 1.5);
    const y = (v) => h - pad - ((v - lo) / (hi - lo)) * (h - pad * 1.6);
    ctx.fillStyle = "#a4adb8";
    ctx.font = `${12 * ratio}px system-ui, sans-serif`;
    ctx.fillText(hi.toFixed(2), 2, y(hi) + 4 * ratio);
    ctx.fillText(lo.toFixed(2), 2, y(lo));
    ctx.fillText("epoch " + epochs, w - 70 * ratio, h - 8 * ratio);
    for (const [key, colour] of [["loss", "#4fc3f7"], ["val_loss", "#ffb74d"]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2 * ratio;
      ctx.beginPath();
      let started = false;
      for (const e of losses) {
        if (e[key] == null || !isFinite(e[key])) continue;
        if (!started) { ctx.moveTo(x(e.epoch), y(e[key])); started = true; } else ctx.lineTo(x(e.epoch), y(e[key]));
      }
      ctx.stroke();
    }
  }
})();
