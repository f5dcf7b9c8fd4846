// The page of `hindsight serve`: asks the server for one state at a time
// (/api/view/N), shows its source line and columns, stack, frames and
// objects (draw.js), and moves through the recording with the keys, the
// buttons, the timeline and a name's history (docs/serve.md).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const page = {
    count: 0,
    first: 0, // a flight recording's first step (the ones before were let go)
    shown: null, // the step on the page
    wanted: 0, // the step asked for last
    loading: false,
    view: null,
    sources: new Map(), // file -> Promise of /api/source's answer
    sourceFile: null,
    history: null, // the history shown: {name, entries}
  };

  async function api(path) {
    const r = await fetch(path, { cache: "no-store" });
    let body;
    try {
      body = await r.json();
    } catch (e) {
      throw new Error(`${path}: ${r.status} ${r.statusText}`);
    }
    if (!r.ok) throw new Error(body.error || `${path}: ${r.status}`);
    return body;
  }

  function note(text) {
    $("note").textContent = text || "";
  }

  // Go to step n (clamped); the newest wish wins when keys come fast.
  function go(n) {
    if (page.count <= page.first) return;
    page.wanted = Math.max(page.first, Math.min(page.count - 1, n));
    if (!page.loading) load();
  }

  async function load() {
    page.loading = true;
    document.body.dataset.loading = "1";
    while (page.shown !== page.wanted) {
      const n = page.wanted;
      try {
        const view = await api(`/api/view/${n}`);
        page.view = view;
        page.shown = n;
        await render(view);
      } catch (e) {
        note(String(e.message || e));
        page.wanted = page.shown === null ? n : page.shown;
        if (page.shown === null) break;
      }
    }
    page.loading = false;
    document.body.dataset.loading = "0";
  }

  async function render(view) {
    const s = view.state;
    document.body.dataset.step = String(s.step);
    $("step-input").value = s.step;
    $("timeline").value = s.step;
    history.replaceState(null, "", `#step=${s.step}`);
    $("where").textContent = `${s.event} · ${s.function} · ${s.file}:${s.line}` +
      (s.stack.length > 1 ? ` · depth ${s.stack.length}` : "");
    note("");
    renderStack(s);
    HindsightDraw.render($("canvas"), view);
    markHistory();
    strip(s.step);
    await showSource(s);
    if (s.stack.length > 1) setTimeout(() => outerFrames(s.step), 120);
  }

  // The outer frames' locals, once the page has stayed at a step (they
  // are looked up backwards through the recording).
  async function outerFrames(n) {
    if (page.shown !== n || page.wanted !== n) return;
    try {
      const r = await api(`/api/frames/${n}`);
      if (page.shown !== n) return;
      HindsightDraw.fillFrames($("canvas"), r.frames, page.view.objects || {});
      document.body.dataset.frames = String(n);
    } catch (e) {
      note(String(e.message || e));
    }
  }

  function renderStack(s) {
    const ol = $("stack");
    ol.replaceChildren();
    s.stack.forEach((f, i) => {
      const li = document.createElement("li");
      li.textContent = `${f.function}  ${f.file.split("/").pop()}:${f.line}`;
      li.title = `${f.file}:${f.line}`;
      if (i === s.stack.length - 1) li.className = "current";
      ol.appendChild(li);
    });
  }

  function source(file) {
    if (!page.sources.has(file)) {
      page.sources.set(file, api(`/api/source?file=${encodeURIComponent(file)}`).catch((e) => ({
        file, available: false, reason: String(e.message || e),
      })));
    }
    return page.sources.get(file);
  }

  // The source of the step's file, its line marked and, where the state
  // has the instruction's columns (3.11+), those columns too.
  async function showSource(s) {
    const src = await source(s.file);
    if (page.shown !== s.step) return;
    $("source-title").textContent = s.file;
    const box = $("source");
    if (!src.available) {
      $("source-note").textContent = `Source not available: ${src.reason}`;
      box.replaceChildren();
      page.sourceFile = null;
      return;
    }
    $("source-note").textContent = "";
    if (page.sourceFile !== s.file) {
      box.replaceChildren(...src.lines.map((text, i) => {
        const d = document.createElement("div");
        d.className = "line";
        d.dataset.line = String(i + 1);
        const ln = document.createElement("span");
        ln.className = "ln";
        ln.textContent = String(i + 1);
        const code = document.createElement("span");
        code.className = "src";
        code.textContent = text;
        d.append(ln, code);
        return d;
      }));
      page.sourceFile = s.file;
    }
    for (const d of box.querySelectorAll(".line.current, .line.in-range")) {
      d.classList.remove("current", "in-range");
      d.querySelector(".src").textContent = src.lines[Number(d.dataset.line) - 1];
    }
    const p = s.position;
    if (p && p.line > 0) {
      for (let l = p.line; l <= p.end_line && l <= src.lines.length; l++) {
        const text = src.lines[l - 1];
        const bytes = new TextEncoder().encode(text);
        const from = l === p.line ? p.col : 0;
        const to = l === p.end_line ? p.end_col : bytes.length;
        markColumns(box.querySelector(`.line[data-line="${l}"]`), bytes, from, to);
      }
    }
    const cur = box.querySelector(`.line[data-line="${s.line}"]`);
    if (cur) {
      cur.classList.add("current");
      const r = cur.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      if (r.top < b.top || r.bottom > b.bottom) cur.scrollIntoView({ block: "center" });
    }
  }

  // Columns are UTF-8 byte offsets (docs/spec/values.md).
  function markColumns(line, bytes, from, to) {
    if (!line || from >= to || from > bytes.length) return;
    const dec = new TextDecoder();
    const code = line.querySelector(".src");
    const mark = document.createElement("mark");
    mark.textContent = dec.decode(bytes.slice(from, to));
    code.replaceChildren(dec.decode(bytes.slice(0, from)), mark, dec.decode(bytes.slice(to)));
    line.classList.add("in-range");
  }

  // The steps around the current one: a strip of the timeline.
  async function strip(n) {
    const from = Math.max(page.first, n - 6);
    let steps;
    try {
      steps = (await api(`/api/steps?from=${from}&to=${n + 6}`)).steps;
    } catch (e) {
      return;
    }
    if (page.shown !== n) return;
    const box = $("strip");
    box.replaceChildren(...steps.map((m) => {
      const b = document.createElement("button");
      b.className = "tick" + (m.step === n ? " current" : "") + " ev-" + m.event;
      b.textContent = `${m.step} ${m.event} ${m.function}:${m.line}`;
      b.addEventListener("click", () => go(m.step));
      return b;
    }));
  }

  async function move(kind) {
    const from = page.shown;
    if (from === null) return;
    try {
      const r = await api(`/api/${kind}/${from}`);
      if (r.step === null) {
        const what = { "next-visit": "no later visit of this line",
          "previous-visit": "no earlier visit of this line",
          "step-out": "no step after this frame returns" }[kind];
        note(what);
      } else {
        go(r.step);
      }
    } catch (e) {
      note(String(e.message || e));
    }
  }

  async function showHistory(name) {
    const aside = $("history");
    aside.hidden = false;
    $("history-title").textContent = `History of ${name}`;
    $("history-note").textContent = "reading the recording…";
    $("history-list").replaceChildren();
    aside.dataset.loading = "1";
    try {
      const h = await api(`/api/history?name=${encodeURIComponent(name)}`);
      page.history = h;
      $("history-note").textContent = `${h.entries.length} step${h.entries.length === 1 ? "" : "s"} where it was bound or changed` +
        (h.more ? " (the first ones)" : "");
      $("history-list").replaceChildren(...h.entries.map((e) => {
        const li = document.createElement("li");
        li.dataset.step = String(e.step);
        li.textContent = `${e.step}  ${e.function}:${e.line}  ${name} = ${e.value}` +
          (e.past_cut ? "  (changed past the items shown)" : "");
        li.addEventListener("click", () => go(e.step));
        return li;
      }));
      markHistory();
    } catch (e) {
      $("history-note").textContent = String(e.message || e);
    }
    aside.dataset.loading = "0";
  }

  // The history entry in force at the shown step.
  function markHistory() {
    for (const li of document.querySelectorAll("#history-list li")) {
      li.classList.toggle("current", false);
    }
    let last = null;
    for (const li of document.querySelectorAll("#history-list li")) {
      if (Number(li.dataset.step) <= page.shown) last = li;
    }
    if (last) last.classList.add("current");
  }

  function keys(e) {
    const typing = e.target && e.target.tagName === "INPUT" && e.target.type !== "range";
    if (typing && e.key !== "Escape") return;
    const base = page.wanted;
    switch (e.key) {
      case "ArrowRight": e.shiftKey ? move("next-visit") : go(base + 1); break;
      case "ArrowLeft": e.shiftKey ? move("previous-visit") : go(base - 1); break;
      case "]": move("next-visit"); break;
      case "[": move("previous-visit"); break;
      case "ArrowUp": case "o": move("step-out"); break;
      case "Home": go(page.first); break;
      case "End": go(page.count - 1); break;
      case "Escape": $("history").hidden = true; break;
      default: return;
    }
    e.preventDefault();
  }

  function wire() {
    $("first").onclick = () => go(page.first);
    $("back").onclick = () => go(page.wanted - 1);
    $("forward").onclick = () => go(page.wanted + 1);
    $("last").onclick = () => go(page.count - 1);
    $("prev-visit").onclick = () => move("previous-visit");
    $("next-visit").onclick = () => move("next-visit");
    $("step-out").onclick = () => move("step-out");
    $("history-close").onclick = () => { $("history").hidden = true; };
    $("timeline").addEventListener("input", (e) => go(Number(e.target.value)));
    $("step-input").addEventListener("change", (e) => go(Number(e.target.value)));
    $("step-input").addEventListener("keydown", (e) => {
      if (e.key === "Enter") go(Number(e.target.value));
    });
    document.addEventListener("keydown", keys);
    $("canvas").addEventListener("click", (e) => {
      const n = e.target.closest(".name");
      if (n) showHistory(n.parentElement.dataset.name);
    });
    window.addEventListener("resize", () => HindsightDraw.drawArrows($("canvas")));
  }

  async function start() {
    wire();
    try {
      const info = await api("/api/info");
      page.count = info.steps;
      page.first = info.first || 0;
      $("program").textContent = info.program.join(" ");
      $("program").title = `${info.file} · ${info.interpreter}`;
      $("count").textContent = `of ${info.steps}` + (info.complete ? "" : " (incomplete)");
      $("timeline").min = String(page.first);
      $("timeline").max = String(Math.max(0, info.steps - 1));
      $("step-input").min = String(page.first);
      $("step-input").max = String(Math.max(0, info.steps - 1));
      if (info.steps <= page.first) {
        note("this recording holds no steps");
        document.body.dataset.loading = "0";
        return;
      }
      const m = /step=(\d+)/.exec(location.hash);
      go(m ? Number(m[1]) : page.first);
    } catch (e) {
      note(String(e.message || e));
      document.body.dataset.loading = "0";
    }
  }

  start();
})();
