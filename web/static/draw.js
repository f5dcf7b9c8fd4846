// The frames-and-objects picture of one state, as Python Tutor draws it:
// a column of frames (the globals, then the stack), each name's value
// inline when it is an atom, else a pointer; every other object drawn once
// in the heap, and SVG arrows from each pointer to its object's box.
"use strict";

const HindsightDraw = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A value cell: an atom's repr, or a pointer to a drawn object.
  function cellEl(cell, objects) {
    if (cell && cell.ref && objects[cell.ref]) {
      const p = el("span", "ptr");
      p.dataset.target = cell.ref;
      return p;
    }
    const repr = cell ? cell.repr : "?";
    const v = el("span", "atom", repr);
    v.title = (cell && cell.type ? cell.type + ": " : "") + repr;
    return v;
  }

  // One binding row: the name (clickable for its history) and its value.
  function rowEl(name, value, scope, objects) {
    const r = el("div", "row");
    r.dataset.name = name;
    r.dataset.scope = scope;
    r.dataset.id = value.id || "";
    r.dataset.type = value.type || "";
    r.dataset.repr = value.repr || "";
    const n = el("span", "name", name);
    n.title = "history of " + name;
    r.appendChild(n);
    const v = el("span", "value");
    if (value.id && objects[value.id]) {
      v.appendChild(cellEl({ ref: value.id }, objects));
    } else {
      const a = el("span", "atom", value.repr);
      a.title = value.type + ": " + value.repr;
      v.appendChild(a);
    }
    r.appendChild(v);
    return r;
  }

  function frameEl(title, cls) {
    const f = el("div", "frame " + (cls || ""));
    f.appendChild(el("div", "frame-title", title));
    return f;
  }

  function framesEl(state, objects) {
    const box = el("div");
    const g = frameEl("Global frame", "globals");
    for (const [name, v] of Object.entries(state.globals || {})) {
      g.appendChild(rowEl(name, v, "globals", objects));
    }
    box.appendChild(g);
    const stack = state.stack || [];
    stack.forEach((fr, i) => {
      const innermost = i === stack.length - 1;
      const f = frameEl(fr.function + "  line " + fr.line, innermost ? "current" : "outer");
      if (innermost) {
        for (const [name, v] of Object.entries(state.locals || {})) {
          f.appendChild(rowEl(name, v, "locals", objects));
        }
        if (state.event === "return" && state.return) {
          const r = rowEl("Return value", state.return, "return", objects);
          r.classList.add("special");
          f.appendChild(r);
        }
        if (state.event === "exception" && state.exception) {
          const r = el("div", "row special exception", state.exception.repr);
          f.appendChild(r);
        }
      } else {
        f.dataset.depth = String(i + 1);
        f.appendChild(el("div", "muted pending", "…"));
      }
      box.appendChild(f);
    });
    return box;
  }

  function objectEl(id, o, objects) {
    const box = el("div", "obj kind-" + o.kind);
    box.id = "obj-" + id;
    box.dataset.id = id;
    box.dataset.type = o.type;
    box.appendChild(el("div", "obj-label", o.label));
    const body = el("div", "obj-body");
    if (o.items) {
      const t = el("div", "cells");
      o.items.forEach((c, i) => {
        const cell = el("div", "cell");
        if (o.kind === "list" || o.kind === "tuple") cell.appendChild(el("div", "idx", String(i)));
        cell.appendChild(cellEl(c, objects));
        t.appendChild(cell);
      });
      if (o.items.length === 0) t.appendChild(el("div", "cell empty", "empty"));
      body.appendChild(t);
    }
    const pairs = o.entries || o.attrs;
    if (pairs) {
      const t = el("div", "pairs");
      for (const [k, v] of pairs) {
        const r = el("div", "pair");
        const kk = el("span", "key");
        kk.appendChild(typeof k === "string" ? el("span", "atom", k) : cellEl(k, objects));
        r.appendChild(kk);
        const vv = el("span", "val");
        vv.appendChild(cellEl(v, objects));
        r.appendChild(vv);
        t.appendChild(r);
      }
      body.appendChild(t);
    }
    if (o.more) body.appendChild(el("div", "muted", "… " + o.more + " more"));
    if (o.truncated) body.appendChild(el("div", "muted", "(cut at the recorder's size limit)"));
    box.appendChild(body);
    return box;
  }

  // The objects an object points at, in order.
  function children(o) {
    const out = [];
    const add = (c) => { if (c && c.ref) out.push(c.ref); };
    (o.items || []).forEach(add);
    (o.entries || []).forEach(([k, v]) => { add(k); add(v); });
    (o.attrs || []).forEach(([, v]) => add(v));
    return out;
  }

  // Heap rows: each binding's object starts a row, followed by what it
  // reaches that is not drawn yet (depth first), so arrows run rightwards.
  function heapEl(state, objects) {
    const heap = el("div");
    const placed = new Set();
    const roots = [];
    for (const v of Object.values(state.globals || {})) roots.push(v.id);
    for (const v of Object.values(state.locals || {})) roots.push(v.id);
    if (state.return) roots.push(state.return.id);
    for (const id of Object.keys(objects)) roots.push(id);
    for (const root of roots) {
      if (!objects[root] || placed.has(root)) continue;
      const row = el("div", "heap-row");
      const todo = [root];
      while (todo.length) {
        const id = todo.shift();
        if (placed.has(id) || !objects[id]) continue;
        placed.add(id);
        row.appendChild(objectEl(id, objects[id], objects));
        todo.unshift(...children(objects[id]));
      }
      heap.appendChild(row);
    }
    return heap;
  }

  // Arrows from every pointer to its object's box, in canvas coordinates.
  function drawArrows(canvas) {
    const svg = canvas.querySelector("#arrows");
    svg.replaceChildren();
    svg.setAttribute("width", canvas.scrollWidth);
    svg.setAttribute("height", canvas.scrollHeight);
    const defs = document.createElementNS(SVG, "defs");
    const m = document.createElementNS(SVG, "marker");
    m.setAttribute("id", "head");
    m.setAttribute("viewBox", "0 0 10 10");
    m.setAttribute("refX", "9");
    m.setAttribute("refY", "5");
    m.setAttribute("markerWidth", "7");
    m.setAttribute("markerHeight", "7");
    m.setAttribute("orient", "auto-start-reverse");
    const tip = document.createElementNS(SVG, "path");
    tip.setAttribute("d", "M 0 0 L 10 5 L 0 10 z");
    m.appendChild(tip);
    defs.appendChild(m);
    svg.appendChild(defs);
    const base = canvas.getBoundingClientRect();
    for (const p of canvas.querySelectorAll(".ptr")) {
      const target = canvas.querySelector("#obj-" + CSS.escape(p.dataset.target));
      if (!target) continue;
      const a = p.getBoundingClientRect();
      const b = target.getBoundingClientRect();
      const x1 = a.left + a.width / 2 - base.left + canvas.scrollLeft;
      const y1 = a.top + a.height / 2 - base.top + canvas.scrollTop;
      let x2 = b.left - base.left + canvas.scrollLeft;
      const y2 = b.top + Math.min(14, b.height / 2) - base.top + canvas.scrollTop;
      // A pointer right of its target (a back reference) enters from the right.
      if (x1 > x2 + b.width / 2) x2 += b.width;
      const dx = Math.max(30, Math.abs(x2 - x1) / 2);
      const c1 = x1 + dx;
      const c2 = x2 < x1 ? x2 + dx : x2 - dx;
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", `M ${x1} ${y1} C ${c1} ${y1}, ${c2} ${y2}, ${x2} ${y2}`);
      path.setAttribute("class", "arrow");
      path.setAttribute("marker-end", "url(#head)");
      path.dataset.from = p.closest("[data-name]") ? p.closest("[data-name]").dataset.name : "";
      path.dataset.to = p.dataset.target;
      svg.appendChild(path);
    }
  }

  // The outer frames' locals (/api/frames/N), each as of the last step it
  // ran: values of objects still drawn point at their boxes.
  function fillFrames(canvas, frames, objects) {
    for (const fr of frames) {
      const box = canvas.querySelector(`.frame[data-depth="${fr.depth}"]`);
      if (!box) continue;
      for (const old of box.querySelectorAll(".pending, .row")) old.remove();
      if (fr.step === null) {
        box.appendChild(el("div", "muted", fr.skipped ? "not looked up (deep in the stack)" : "no recorded step ran in it"));
        continue;
      }
      box.title = `locals as of step ${fr.step}, the last step it ran`;
      for (const [name, v] of Object.entries(fr.locals || {})) {
        box.appendChild(rowEl(name, v, "frame", objects));
      }
    }
    drawArrows(canvas);
  }

  // Draw `view` ({state, objects}) into the canvas.
  function render(canvas, view) {
    const objects = view.objects || {};
    canvas.querySelector("#frames").replaceChildren(framesEl(view.state, objects));
    canvas.querySelector("#heap").replaceChildren(heapEl(view.state, objects));
    drawArrows(canvas);
  }

  return { render, drawArrows, fillFrames };
})();
