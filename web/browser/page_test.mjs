// Drives headless Chromium (Debian's `chromium`, through playwright-core)
// through the page of `hindsight serve`, and checks what the page shows
// against the recording as the command line reads it (`hindsight state
// --json`, `visits`, `history`, `dump`).
//
// Usage: node page_test.mjs URL RECORDING HINDSIGHT SCREENSHOT_DIR
// Run by tests/serve_test.rs, which records examples/bubble.py and starts
// `hindsight serve --port 0` first.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [url, rec, hindsight, shots] = process.argv.slice(2);
if (!shots) {
  console.error("usage: node page_test.mjs URL RECORDING HINDSIGHT SCREENSHOT_DIR");
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const cli = (...args) => execFileSync(hindsight, args, { encoding: "utf8", maxBuffer: 1 << 28 });
const stateOf = (n) => JSON.parse(cli("state", rec, String(n), "--json"));
const log = (s) => console.log(`page_test: ${s}`);

// Every state, independently of the server: for the expected moves.
const states = cli("dump", rec).trim().split("\n").map((l) => JSON.parse(l));

const profile = mkdtempSync(join(tmpdir(), "hindsight-chromium-"));
// A fresh profile each run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1500, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.setDefaultTimeout(20000);

  const shown = async (n) => {
    await page.waitForSelector(`body[data-step="${n}"][data-loading="0"]`);
  };
  // The bindings a scope of the page shows, as the test reads them back.
  const rows = (scope) => page.$$eval(`#frames .row[data-scope="${scope}"]`, (rs) => rs.map((r) => {
    const ptr = r.querySelector(".value .ptr");
    const target = ptr ? document.getElementById("obj-" + ptr.dataset.target) : null;
    return {
      name: r.dataset.name, id: r.dataset.id, type: r.dataset.type, repr: r.dataset.repr,
      text: ptr ? null : r.querySelector(".value").textContent,
      target: ptr ? ptr.dataset.target : null,
      targetType: target ? target.dataset.type : null,
      boxes: ptr ? document.querySelectorAll(`#heap .obj[data-id="${ptr.dataset.target}"]`).length : 0,
      arrow: ptr ? !!document.querySelector(`#arrows path[data-to="${ptr.dataset.target}"]`) : false,
    };
  }));

  // The page's locals and globals against `hindsight state REC N --json`.
  const check = async (n) => {
    const want = stateOf(n);
    for (const scope of ["locals", "globals"]) {
      const got = await rows(scope);
      const names = Object.keys(want[scope]);
      assert.deepEqual(got.map((r) => r.name), names, `step ${n}: the ${scope} shown`);
      for (const r of got) {
        const v = want[scope][r.name];
        assert.equal(r.type, v.type, `step ${n}: type of ${r.name}`);
        assert.equal(r.repr, v.repr, `step ${n}: repr of ${r.name}`);
        assert.equal(r.id, v.id, `step ${n}: id of ${r.name}`);
        if (r.target === null) {
          assert.equal(r.text, v.repr, `step ${n}: the value shown for ${r.name}`);
        } else {
          assert.equal(r.target, v.id, `step ${n}: the arrow of ${r.name}`);
          assert.equal(r.targetType, v.type, `step ${n}: the box ${r.name} points at`);
          assert.equal(r.boxes, 1, `step ${n}: the object of ${r.name} is drawn once`);
          assert.ok(r.arrow, `step ${n}: an arrow to the object of ${r.name}`);
        }
      }
    }
    // Names that share an object point at the same box.
    const all = [...await rows("locals"), ...await rows("globals")];
    for (const a of all) {
      for (const b of all) {
        if (a.target && b.target && a.id === b.id) assert.equal(a.target, b.target);
      }
    }
    // The source line and the instruction's columns.
    const marked = await page.$$eval("#source .line.current", (ds) => ds.map((d) => Number(d.dataset.line)));
    assert.deepEqual(marked, want.line > 0 ? [want.line] : [], `step ${n}: the line marked`);
    const p = want.position;
    if (p && p.line === p.end_line && p.line === want.line && p.col < p.end_col) {
      const src = readFileSync(want.file, "utf8").split("\n")[p.line - 1];
      const cols = Buffer.from(src, "utf8").subarray(p.col, p.end_col).toString("utf8");
      const mark = await page.$eval(`#source .line[data-line="${p.line}"] mark`, (m) => m.textContent);
      assert.equal(mark, cols, `step ${n}: the columns marked`);
    }
    return want;
  };

  await page.goto(url);
  await shown(0);
  await check(0);

  // Step N: the first swap line inside bubble(), where items, data and
  // alias are one list.
  const n = states.find((s) => s.event === "line" && s.function === "bubble" &&
    readFileSync(s.file, "utf8").split("\n")[s.line - 1].includes("items[j], items[j + 1] =")).step;
  await page.fill("#step-input", String(n));
  await page.press("#step-input", "Enter");
  await shown(n);
  const at = await check(n);
  const items = at.locals.items.id;
  assert.equal(at.globals.data.id, items, "the fixture shares its list");
  // The outer frame's locals: those of the last step it ran, from the dump.
  await page.waitForSelector(`body[data-frames="${n}"]`);
  const outer = states.filter((s) => s.step < n && s.stack.length === 1).pop();
  const shownOuter = await page.$$eval('#frames .frame[data-depth="1"] .row', (rs) => rs.map((r) => [r.dataset.name, r.dataset.repr]));
  assert.deepEqual(shownOuter, Object.entries(outer.locals).map(([k, v]) => [k, v.repr]), "the outer frame's locals");
  log(`step ${n}: locals and globals match state --json, one box for the shared list`);

  // The keys.
  await page.locator("#diagram").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("ArrowLeft");
  await shown(n - 1);
  await check(n - 1);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await shown(n + 1);
  await check(n + 1);
  log(`ArrowLeft / ArrowRight: steps ${n - 1} and ${n + 1} match`);

  // Next and previous visit of this line, against `hindsight visits`.
  const s1 = states[n + 1];
  const visits = cli("visits", rec, `${s1.file}:${s1.line}`).trim().split("\n").map((l) => Number(l.split(" ")[0]));
  const next = visits.find((v) => v > n + 1);
  await page.keyboard.press("Shift+ArrowRight");
  await shown(next);
  await check(next);
  await page.keyboard.press("Shift+ArrowLeft");
  await shown(n + 1);
  log(`next / previous visit of line ${s1.line}: ${next}, back to ${n + 1}`);

  // Step out: the first step after this frame returns, from the dump.
  const depth = s1.stack.length;
  const out = states.find((s) => s.step > n + 1 && s.thread === s1.thread && s.stack.length < depth).step;
  await page.keyboard.press("ArrowUp");
  await shown(out);
  await check(out);
  log(`step out: ${out}`);

  // The timeline slider.
  await page.$eval("#timeline", (t, v) => { t.value = String(v); t.dispatchEvent(new Event("input")); }, n);
  await shown(n);

  // A name's history, against `hindsight history`, and a jump from it.
  await page.click('#frames .row[data-name="swapped"] .name');
  await page.waitForSelector('#history[data-loading="0"]');
  const want = cli("history", rec, "swapped").trim().split("\n").map((l) => Number(l.split(" ")[0]));
  const got = await page.$$eval("#history-list li", (ls) => ls.map((l) => Number(l.dataset.step)));
  assert.deepEqual(got, want, "the history of swapped");
  const target = want[Math.min(2, want.length - 1)];
  await page.click(`#history-list li[data-step="${target}"]`);
  await shown(target);
  const st = await check(target);
  const swapped = (await rows("locals")).find((r) => r.name === "swapped");
  assert.equal(swapped.repr, st.locals.swapped.repr, "the value the history jumped to");
  log(`history of swapped: ${want.length} steps as \`history\` lists them; jumped to ${target}`);

  // Back to the swap for the picture.
  await page.fill("#step-input", String(n + 1));
  await page.press("#step-input", "Enter");
  await shown(n + 1);
  await page.click('#frames .row[data-name="items"] .name');
  await page.waitForSelector('#history[data-loading="0"]');
  await page.screenshot({ path: join(shots, "serve.png") });
  log(`screenshot: ${join(shots, "serve.png")}`);
  assert.deepEqual(errors, [], "no error in the page's console");
} catch (e) {
  failed = true;
  console.error(`page_test: FAILED: ${e.stack || e}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
