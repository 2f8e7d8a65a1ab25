// IMPSY web UI: live status, uploads with progress, confirmations. Plain JavaScript, no build step.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

// ---- Messages carried across a reload --------------------------------------------------------

function showMessage(text, kind) {
  const main = document.querySelector("main");
  const p = document.createElement("p");
  p.className = "message " + (kind || "ok");
  p.setAttribute("role", kind === "error" ? "alert" : "status");
  p.textContent = text;
  main.insertBefore(p, main.firstChild);
}

function reloadWith(text, kind) {
  sessionStorage.setItem("impsy-message", JSON.stringify({ text, kind }));
  location.reload();
}

function showCarriedMessage() {
  const raw = sessionStorage.getItem("impsy-message");
  if (!raw) return;
  sessionStorage.removeItem("impsy-message");
  try {
    const { text, kind } = JSON.parse(raw);
    showMessage(text, kind);
  } catch (e) { /* ignore */ }
}

// ---- Live status from `impsy run` (server-sent events) ---------------------------------------

function lookup(data, path) {
  return path.split(".").reduce((v, key) => (v == null ? undefined : v[key]), data);
}

function formatted(value, format) {
  if (format === "file" && !value) return "random (dummy) model";
  if (value === undefined || value === null) return "-";
  switch (format) {
    case "yesno": return value ? "yes" : "no";
    case "rate": return Number(value).toFixed(1);
    case "number": return typeof value === "number" ? String(Number(value.toPrecision(4))) : String(value);
    case "file": return String(value).split("/").pop();
    default: return String(value);
  }
}

function applyStatus(status) {
  const alive = !!status.alive;
  document.body.dataset.stream = "connected"; // the stream is open: anything from now on arrives
  document.querySelectorAll("[data-live]").forEach((el) => {
    const path = el.dataset.live;
    if (path === "alive-text") el.textContent = alive ? "Running" : "Not running";
    else if (path === "last_heard") el.textContent = status.last_heard == null ? "-" : status.last_heard;
    else if (alive || !path.startsWith("state.")) el.textContent = formatted(lookup(status, path), el.dataset.format);
    else if (el.dataset.stopped !== undefined) el.textContent = el.dataset.stopped; // not "yes" from a stopped run
  });
  document.querySelectorAll("[data-show-when]").forEach((el) => {
    el.hidden = (el.dataset.showWhen === "alive") !== alive;
  });
  const mode = status.state && status.state.mode;
  document.querySelectorAll("[data-mode-button]").forEach((b) => {
    b.classList.toggle("primary", alive && b.dataset.modeButton === mode);
  });
  const pill = document.querySelector("[data-live-pill]");
  if (pill) {
    pill.textContent = alive ? "running · " + (mode || "?") : "not running";
    pill.className = "pill " + (alive ? "ok" : "off");
  }
  document.dispatchEvent(new CustomEvent("impsy-status", { detail: status }));
}

function startLiveStream() {
  const holder = document.querySelector("[data-live-stream]");
  if (!holder || !window.EventSource) return;
  const source = new EventSource(holder.dataset.liveStream);
  source.addEventListener("status", (e) => applyStatus(JSON.parse(e.data)));
  source.addEventListener("vectors", (e) => {
    document.dispatchEvent(new CustomEvent("impsy-vectors", { detail: JSON.parse(e.data) }));
  });
  window.addEventListener("pagehide", () => source.close());
}

// ---- Uploads: the file is the request body, with a progress bar -------------------------------

function sendFile(url, file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.statusText || "no answer" }; }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, body });
    };
    xhr.onerror = () => resolve({ ok: false, body: { error: "the upload did not reach the instrument (is it still connected?)" } });
    xhr.send(file);
  });
}

function setupUploads() {
  document.querySelectorAll("form[data-upload]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = form.querySelector('input[type="file"]');
      const result = form.querySelector(".upload-result");
      const progress = form.querySelector("progress");
      const button = form.querySelector("button");
      const limit = Number(form.dataset.limit);
      result.textContent = "";
      if (!input.files.length) {
        result.innerHTML = '<span class="error">Choose a file first.</span>';
        return;
      }
      const params = [];
      form.querySelectorAll("input[data-param]").forEach((box) => { if (box.checked) params.push(box.dataset.param + "=1"); });
      const lines = [];
      let anyOk = false;
      let allOk = true;
      button.disabled = true;
      progress.hidden = false;
      for (const file of input.files) {
        if (limit && file.size > limit) {
          lines.push({ ok: false, text: `${file.name}: too large (the most this accepts is ${Math.round(limit / 1048576)} MB)` });
          allOk = false;
          continue;
        }
        progress.value = 0;
        const url = form.dataset.upload + "?name=" + encodeURIComponent(file.name) + (params.length ? "&" + params.join("&") : "");
        const answer = await sendFile(url, file, (f) => { progress.value = Math.round(f * 100); });
        anyOk = anyOk || answer.ok;
        allOk = allOk && answer.ok;
        lines.push({ ok: answer.ok, text: answer.ok ? answer.body.message : `${file.name}: ${answer.body.error}` });
      }
      button.disabled = false;
      progress.hidden = true;
      if (anyOk && allOk) {
        reloadWith(lines.map((l) => l.text).join("\n"), "ok");
        return;
      }
      result.innerHTML = "";
      lines.forEach((l) => {
        const span = document.createElement("span");
        span.className = l.ok ? "ok" : "error";
        span.textContent = l.text;
        result.appendChild(span);
        result.appendChild(document.createElement("br"));
      });
    });
  });
}

// ---- Small things ----------------------------------------------------------------------------

function setupConfirmations() {
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
}

// "Go back" on error pages: a plain link to the dashboard where there is no history.
function setupBackLinks() {
  document.querySelectorAll("a[data-back]").forEach((link) => {
    link.addEventListener("click", (event) => {
      if (history.length > 1) {
        event.preventDefault();
        history.back();
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  showCarriedMessage();
  startLiveStream();
  setupUploads();
  setupConfirmations();
  setupBackLinks();
});
