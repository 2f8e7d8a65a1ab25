// Following a job (building a dataset, training a model): progress, output, time left, and the
// loss plot (lossplot.js).
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
        (event.val_loss == null ? "" : `, held-out ${event.val_loss.toFixed(3)} (best: epoch ${event.best_epoch})`);
      const eta = box.querySelector("[data-job-eta]");
      if (eta) eta.textContent = live && event.epoch < event.epochs && event.eta > 0 ? `about ${minutes(event.eta)} left` : "";
      losses.push(event);
      plot(box);
    } else if (event.type === "end") {
      message.textContent = event.message;
      progress.max = 1;
      progress.value = 1;
      box.dataset.jobState = event.state;
      const stop = box.querySelector("[data-job-stop]");
      if (stop) stop.closest("form").hidden = true;
      const eta = box.querySelector("[data-job-eta]");
      if (eta) eta.textContent = "";
      const done = box.querySelector("[data-job-done]");
      const model = (event.models || [])[0];
      if (done && event.state === "done" && model) {
        // One click: make the new model active (and restart IMPSY where the web UI can).
        done.action = "/models/" + encodeURIComponent(model) + "/activate";
        done.querySelector("[data-job-model]").textContent = model;
        done.hidden = false;
      }
      if (live && document.body.dataset.page === "datasets") {
        sessionStorage.setItem("impsy-message", JSON.stringify({ text: event.message, kind: event.state === "done" ? "ok" : "error" }));
        location.href = "/datasets";
      }
    }
  }

  function plot(box) {
    const canvas = box.querySelector("[data-loss-plot]");
    if (canvas && window.impsyLossPlot) window.impsyLossPlot(canvas, losses);
  }

  function minutes(seconds) {
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
    return `${Math.round(seconds / 60)} min`;
  }
})();
