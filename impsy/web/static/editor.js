// The config editor: the page's own <textarea>, with line numbers, TOML colours and the checker's
// problems marked on their lines, drawn by a layer of lines behind it.
//
// Ours rather than CodeMirror: a config is a hundred lines, and a plain textarea keeps everything
// a phone's keyboard, selection, undo and autofill already do well, with no build step or 300 KB
// bundle on a Pi Zero. The textarea's text is transparent and both wrap alike, so every line
// number sits beside its line even when a long line wraps on a phone.
"use strict";

(function () {
  const textarea = document.getElementById("config-text");
  const layer = document.querySelector("[data-editor-lines]");
  if (!textarea || !layer) return;
  const problems = readProblems();

  // Line number -> {severity, messages} from the list the checker's answer rendered.
  function readProblems() {
    const found = new Map();
    document.querySelectorAll(".problems li").forEach((li) => {
      const link = li.querySelector("a[data-line]");
      if (!link) return;
      const n = Number(link.dataset.line);
      const entry = found.get(n) || { severity: "warning", messages: [] };
      if (li.classList.contains("error")) entry.severity = "error";
      entry.messages.push(li.textContent.replace(/\s+/g, " ").trim());
      found.set(n, entry);
    });
    return found;
  }

  // After the table header and the key, a line is read piece by piece with these, first match wins.
  const RULES = [
    ["", /^\s+/],
    ["t-comment", /^#.*/],
    ["t-str", /^("""|''')/], // a multi-line string: see tokens()
    ["t-str", /^"(?:[^"\\]|\\.)*"?/],
    ["t-str", /^'[^']*'?/],
    ["t-bool", /^(true|false)\b/],
    ["t-number", /^[+-]?(inf|nan|\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?)\b/],
    ["t-punct", /^[[\]{},=]/],
    ["", /^[^\s#"'[\]{},=]+/],
    ["", /^./],
  ];
  const HEADER = /^(\s*)(\[\[?[^\]#]*\]\]?)/;
  const KEY = /^(\s*)((?:[\w-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[\w-]+|"[^"]*"|'[^']*'))*)(\s*=)/;

  // One line of TOML as [class, text] pieces; `state.multiline` carries a """ string to the next line.
  function tokens(line, state) {
    const out = [];
    let rest = line;
    const take = (cls, text) => { out.push([cls, text]); rest = rest.slice(text.length); };
    if (state.multiline) {
      const end = rest.indexOf(state.multiline);
      if (end < 0) return [["t-str", rest]];
      take("t-str", rest.slice(0, end + 3));
      state.multiline = null;
    }
    const header = HEADER.exec(rest);
    if (header) { take("", header[1]); take("t-table", header[2]); }
    const key = KEY.exec(rest);
    if (key) { take("", key[1]); take("t-key", key[2]); take("t-punct", key[3]); }
    while (rest.length) {
      const [cls, match] = RULES.map(([c, re]) => [c, re.exec(rest)]).find(([, m]) => m);
      const text = match[0];
      if (text === '"""' || text === "'''") {
        const close = rest.indexOf(text, 3);
        if (close < 0) { state.multiline = text; take("t-str", rest); break; }
        take("t-str", rest.slice(0, close + 3));
        continue;
      }
      take(cls, text);
    }
    return out;
  }

  function render() {
    const state = { multiline: null };
    const lines = textarea.value.split("\n");
    const fragment = document.createDocumentFragment();
    lines.forEach((line, i) => {
      const div = document.createElement("div");
      div.className = "l";
      div.dataset.n = String(i + 1);
      const problem = problems.get(i + 1);
      if (problem) {
        div.classList.add(problem.severity);
        div.title = problem.messages.join("\n");
      }
      for (const [cls, text] of tokens(line, state)) {
        if (!cls) { div.appendChild(document.createTextNode(text)); continue; }
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        div.appendChild(span);
      }
      div.appendChild(document.createTextNode("\u200b")); // an empty line keeps its height
      fragment.appendChild(div);
    });
    layer.replaceChildren(fragment);
    textarea.style.height = layer.offsetHeight + "px"; // the page scrolls, never the textarea
  }

  function jumpTo(n) {
    const lines = textarea.value.split("\n");
    const index = Math.min(n, lines.length) - 1;
    const start = lines.slice(0, index).reduce((sum, line) => sum + line.length + 1, 0);
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start, start + lines[index].length);
    layer.children[index].scrollIntoView({ block: "center" });
  }

  document.querySelectorAll("a[data-line]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      jumpTo(Number(link.dataset.line));
    });
  });
  textarea.addEventListener("input", render);
  window.addEventListener("resize", render);
  layer.parentElement.classList.add("live"); // without this script, a plain textarea
  render();
})();
