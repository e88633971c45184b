// The browser half of the end-to-end test (tools/export/browser_test.py starts JupyterLab and calls this).
// Drives Debian's Chromium (/usr/bin/chromium) with playwright-core — no browser download.
//
//   node browser_test.mjs CONFIG.json
//
// CONFIG: {labUrl, token, printedUrl, index, indexTitle, notebook, cells: [{type, tags, slide}], figures, htmlPage,
//          slidesPage, outDir, runTimeoutSeconds, chromium, decks: [{stem, page, outputs}], slideFitExempt,
//          slideFitExemptFile, skip: ["lab-index"|"lab"|"rise"|"html"|"slides"|"fit"]}
// Checks, each reported as "ok ..." or "FAIL ...", then "N passed, N failed":
//   lab: make lab opens the index   the URL JupyterLab printed when tools/lab.sh started it (as `make lab` does)
//           is /lab/tree/<index>?token=…, and opening it shows the index notebook (its tab current, its title on
//           the page) with no notification toast — no news question, no update prompt; screenshot lab-index.png.
//   lab     JupyterLab opens the notebook; Run → Run All Cells (the menu, as a person does) runs every code cell to a
//           finished prompt [n] and the kernel goes idle; no cell shows an error or panic text except the cells
//           tagged raises-exception / expect-panic (and those tagged raises-exception do show their error) and
//           the checks; the notebook's SVG charts are drawn; screenshot lab.png (left sidebar closed, a chart in view).
//   lab: Run All judges the stub   every check cell (tag check) shows a run-time failure — panic text from its
//           asserts, no compile error — and not its success line: Run All ran the learner's stub, then the check,
//           and only then the reference solution, which stands below the check; the solution cells did run (their
//           [n] is higher than the check's), and the wrong answers (raw cells) were not run.
//   rise    live slides (jupyterlab-rise): View → Render as Reveal Slideshow on the notebook opens RISE's view; in it,
//           the arrow keys go to the setup cell's slide and Ctrl+Enter runs it, then the first plain code cell
//           after it the same way: both get a new [n], that cell shows output and no error or panic; rise.png.
//   html    the exported page loads nothing from another machine, and draws all the notebook's SVG charts; html.png.
//   slides  the deck loads nothing from another machine; reveal.js starts with no page error; one slide per
//           slide/subslide cell; the speaker notes are the notes cells (Reveal.getSlideNotes on the slide, and the
//           speaker view that `s` opens shows them); a slide with a chart draws it; screenshot slide.png.
//   fit     every slide of every deck (horizontal and vertical) at 1280×720: a slide whose content is taller than
//           the deck's slide height fails, unless slide_fit_exempt.json lists it (deck stem → id of the slide's
//           first cell → why); a listed slide that fits, or is gone, fails too (the list only shrinks). Writes
//           slide-fit.json in OUT: every overflowing slide, its title and how many slide heights tall (in the
//           format of slide_fit_exempt.json: after a change to the lesson set, that file is the list to start from).
//   network no request left the machine: every request Chromium makes (page.on("request") in every page, popups
//           included) is recorded, and anything but 127.0.0.1 / localhost / [::1] / file: / data: / blob: /
//           about: fails the test (such requests are also aborted by a route, so a page that tries is caught, not
//           slowed).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const PANIC_RE = /panicked at|has overflowed its stack|fatal runtime error/;
const ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook";
const results = [];
const requests = [];

function ok(name, detail = "") {
  results.push({ name, ok: true });
  console.log(`ok   ${name}${detail ? ": " + detail : ""}`);
}
function fail(name, detail) {
  results.push({ name, ok: false });
  console.log(`FAIL ${name}: ${detail}`);
}
function isLocal(url) {
  if (/^(data|blob|about|file|chrome-error):/.test(url)) return true;
  try {
    const u = new URL(url);
    return ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  } catch {
    return false;
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: cfg.chromium || "/usr/bin/chromium",
  headless: true,
  // As root Chromium needs --no-sandbox; the others keep it from calling home (the machines here have no network
  // but the package registries, and Chromium's own connections would be refused).
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
// playwright-core gives every launch a fresh, empty profile (its own --user-data-dir in a temporary folder).
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
context.on("request", (req) => requests.push(req.url()));
await context.route("**/*", (route) => (isLocal(route.request().url()) ? route.continue() : route.abort()));

async function shot(page, name) {
  const file = path.join(cfg.outDir, name);
  await page.screenshot({ path: file });
  return file;
}

// Elements whose src / <link href> point off the machine (an <a href> is a link a person may follow, not a load).
async function offMachineAttributes(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("[src], link[href], [srcset], [poster], object[data]")]
      .map((el) => el.getAttribute("src") || el.getAttribute("href") || el.getAttribute("srcset") || el.getAttribute("poster") || el.getAttribute("data") || "")
      .filter((u) => /^\s*(https?:)?\/\//i.test(u)),
  );
}

// ---------- lab ----------
async function kernelState() {
  const r = await fetch(`${cfg.labUrl}/api/kernels?token=${cfg.token}`);
  const kernels = await r.json();
  return kernels.map((k) => k.execution_state);
}

async function lab() {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1680, height: 1000 }); // the course's charts are 1440 px wide
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const url = `${cfg.labUrl}/lab/tree/${cfg.notebook}?reset&token=${cfg.token}`;
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.locator(ACTIVE).waitFor({ state: "visible", timeout: 90_000 });
  await page
    .waitForFunction(([sel, n]) => document.querySelectorAll(`${sel} .jp-Cell`).length >= n, [ACTIVE, cfg.cells.length], { timeout: 60_000 })
    .catch(() => {});
  const shown = await page.locator(`${ACTIVE} .jp-Cell`).count();
  if (shown !== cfg.cells.length) {
    fail("lab: notebook opened", `${shown} cells on the page, the notebook has ${cfg.cells.length}`);
    return;
  }
  // The kernel is up when the server says so (idle) — then Run All is not refused as "still initializing".
  const t0k = Date.now();
  while (Date.now() - t0k < 120_000) {
    const states = await kernelState();
    if (states.length && states.every((s) => s === "idle")) break;
    await sleep(500);
  }
  ok("lab: notebook opened", `${shown} cells, kernel ready in ${((Date.now() - t0k) / 1000).toFixed(0)} s`);
  // Close the file browser: more room for the notebook (and the screenshot).
  await page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first().click().catch(() => {});

  // Run → Run All Cells, through the menu as a person does.
  await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
  const t0 = Date.now();
  const codeIdx = cfg.cells.map((c, i) => (c.type === "code" ? i : -1)).filter((i) => i >= 0);
  const prompts = async () =>
    page.evaluate(
      (sel) => [...document.querySelectorAll(`${sel} .jp-Cell`)].map((c) => (c.classList.contains("jp-CodeCell") ? c.querySelector(".jp-InputPrompt")?.textContent?.trim() || "" : null)),
      ACTIVE,
    );
  // Done when every code cell shows [n] and the kernel is idle. When a cell fails, JupyterLab clears the [*] of
  // the cells queued after it at once, although the kernel (evcxr does not abort its queue) still runs them and
  // their prompts fill in later; so a blank prompt is not "done". If the kernel stays idle for 10 s with cells
  // left blank, those cells did not run. (A cell whose input is collapsed, like a solution, shows no prompt: the
  // saved notebook below is checked for it.)
  let idleSince = null;
  let lastReport = 0;
  while (true) {
    const p = await prompts();
    const tracked = codeIdx.filter((i) => p[i] !== "");
    const done = tracked.filter((i) => /\[\d+\]/.test(p[i])).length;
    const states = await kernelState();
    const idle = states.length > 0 && states.every((s) => s === "idle");
    idleSince = idle ? idleSince ?? Date.now() : null;
    if (idle && done === tracked.length) break;
    if (idle && Date.now() - idleSince > 10_000) break;
    const s = (Date.now() - t0) / 1000;
    if (s > cfg.runTimeoutSeconds) {
      fail("lab: run all cells", `not finished after ${cfg.runTimeoutSeconds} s: ${done}/${tracked.length} code cells done, kernel ${states.join(",")}`);
      console.log(`     screenshot: ${await shot(page, "lab-timeout.png")}`);
      return;
    }
    if (s - lastReport >= 30) {
      lastReport = s;
      console.log(`     … ${Math.round(s)} s: ${done}/${tracked.length} code cells done`);
    }
    await sleep(500);
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);

  // Save (Ctrl+S, as a person does) and judge what the UI ran, from the saved notebook: every code cell has an
  // execution count; no error output and no panic text, except in the cells tagged raises-exception /
  // expect-panic; the cells tagged raises-exception do show their error. (In the page, an error and a stderr
  // stream both render as application/vnd.jupyter.stderr: the file tells them apart.)
  const contentsUrl = `${cfg.labUrl}/api/contents/${encodeURIComponent(cfg.notebook)}?token=${cfg.token}`;
  const before = (await (await fetch(`${contentsUrl}&content=0`)).json()).last_modified;
  await page.locator(`${ACTIVE}`).click({ position: { x: 5, y: 5 } }).catch(() => {});
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+s");
  let saved = null;
  for (let k = 0; k < 40 && !saved; k++) {
    await sleep(500);
    const m = await (await fetch(`${contentsUrl}&content=1`)).json();
    if (m.last_modified !== before) saved = m.content;
  }
  if (!saved) {
    fail("lab: run all cells", "Ctrl+S did not save the notebook within 20 s");
    return;
  }
  const text = (o) =>
    o.output_type === "stream" ? [].concat(o.text).join("") : o.output_type === "error" ? `${o.ename}: ${o.evalue}` : [].concat(o.data?.["text/plain"] || []).join("");
  const unfinished = [];
  const bad = [];
  const silent = [];
  const judged = []; // checks that failed at run time on the stub
  const misjudged = [];
  let lastCheckCount = -1;
  saved.cells.forEach((c, i) => {
    if (c.cell_type !== "code") return;
    if (c.execution_count == null) unfinished.push(i);
    const tags = c.metadata?.tags || [];
    if (tags.includes("check")) {
      // The stub is what Run All checked: the check's asserts fail at run time (panic text, no error output).
      const out = c.outputs.map(text).join("\n");
      const errors = c.outputs.filter((o) => o.output_type === "error");
      if (errors.length) misjudged.push(`cell ${i}: the check did not compile or errored: ${text(errors[0]).replace(/\s+/g, " ").slice(0, 160)}`);
      else if (!PANIC_RE.test(out)) {
        // evcxr forwards a cell's stderr (where the default panic hook writes) on its own thread, stamped with the
        // newest execute request: when Run All has already sent the next cell, a late panic line lands there.
        const next = saved.cells.slice(i + 1).find((d) => d.cell_type === "code");
        const spilled = next && PANIC_RE.test(next.outputs.map(text).join("\n"));
        if (spilled)
          misjudged.push(`cell ${i}: the check failed on the stub, but its panic text shows under the next code cell (${next.metadata?.tags?.join(",") || "untagged"}), not under the check: evcxr sends stderr late and Run All had started the next cell — a panic hook that prints to stdout (which evcxr flushes before a cell ends) keeps it in place`);
        else misjudged.push(`cell ${i}: the check passed on Run All — it judged the solution, not the stub: ${out.replace(/\s+/g, " ").slice(0, 160)}`);
      }
      else {
        const line = out.split("\n").find((l) => PANIC_RE.test(l)) || "";
        const why = out.split("\n")[out.split("\n").indexOf(line) + 1] || "";
        judged.push(`cell ${i}: ${(line + " " + why).replace(/\s+/g, " ").trim().slice(0, 140)}`);
      }
      lastCheckCount = Math.max(lastCheckCount, c.execution_count ?? -1);
      return;
    }
    if (tags.includes("solution") && c.execution_count != null && c.execution_count < lastCheckCount)
      misjudged.push(`cell ${i}: the solution ran before its check`);
    if (tags.includes("raises-exception")) {
      if (!c.outputs.some((o) => o.output_type === "error")) silent.push(i);
      return;
    }
    for (const o of c.outputs) {
      if (o.output_type === "error") bad.push(`cell ${i}: ${text(o).replace(/\s+/g, " ").slice(0, 160)}`);
      else if (!tags.includes("expect-panic") && PANIC_RE.test(text(o))) bad.push(`cell ${i}: panic: ${text(o).replace(/\s+/g, " ").slice(0, 160)}`);
    }
  });
  if (unfinished.length) fail("lab: run all cells", `cells ${unfinished.join(", ")} did not run (the kernel went idle without them)`);
  else ok("lab: run all cells", `${codeIdx.length} code cells finished in ${seconds} s (saved notebook: every cell has its [n])`);
  const nRaises = cfg.cells.filter((c) => c.tags.includes("raises-exception")).length;
  if (bad.length) fail("lab: no errors", bad.join("\n     "));
  else if (silent.length) fail("lab: no errors", `cells tagged raises-exception show no error: ${silent.join(", ")}`);
  else ok("lab: no errors", `no error or panic output but in the checks; the ${nRaises} cells tagged raises-exception show their error`);
  const nChecks = cfg.cells.filter((c) => c.tags.includes("check")).length;
  const ranWrong = saved.cells.filter((c) => (c.metadata?.tags || []).includes("wrong") && c.cell_type !== "raw").length;
  if (!nChecks) fail("lab: Run All judges the stub", "the notebook has no check cell");
  else if (misjudged.length || ranWrong) fail("lab: Run All judges the stub", [...misjudged, ...(ranWrong ? [`${ranWrong} wrong answers are not raw cells`] : [])].join("\n     "));
  else ok("lab: Run All judges the stub", `${judged.length} check(s) failed on the stub at run time, the solution ran after: ${judged.join("; ")}`);

  // The SVG charts, decoded and drawn.
  const charts = page.locator(`${ACTIVE} .jp-RenderedSVG img, ${ACTIVE} .jp-RenderedSVG svg`);
  const n = await charts.count();
  if (!n || n < cfg.figures) {
    fail("lab: SVG charts", `${n} SVG charts on the page, the executed notebook has ${cfg.figures}`);
  } else {
    const first = charts.first();
    await first.scrollIntoViewIfNeeded();
    const box = await first.boundingBox();
    const decoded = await first.evaluate((el) => (el.tagName === "IMG" ? el.complete && el.naturalWidth > 0 : true));
    if (!box || box.width < 100 || !decoded) fail("lab: SVG charts", `chart not drawn (box ${JSON.stringify(box)}, decoded ${decoded})`);
    else ok("lab: SVG charts", `${n} drawn, the first ${Math.round(box.width)}×${Math.round(box.height)} px`);
    // Frame the screenshot: the end of the code cell that made the chart, and the chart under it.
    await first.evaluate((el) => {
      const scroller = el.closest(".jp-WindowedPanel-outer") || el.closest(".jp-Notebook");
      if (scroller) scroller.scrollTop += el.getBoundingClientRect().bottom - scroller.getBoundingClientRect().bottom + 12;
    });
    await sleep(300);
  }
  console.log(`     screenshot: ${await shot(page, "lab.png")}`);
  if (consoleErrors.length) console.log(`     (page errors: ${consoleErrors.slice(0, 3).join(" | ")})`);
  await page.close();
}

// ---------- live slides (RISE) ----------
async function rise() {
  const name = "rise: a cell runs in the live slideshow";
  const setup = cfg.cells.findIndex((c) => c.type === "code" && c.tags.includes("setup"));
  const plain = cfg.cells.findIndex((c, i) => i > setup && c.type === "code" && !c.tags.length && !["skip", "notes"].includes(c.slide));
  if (setup < 0 || plain < 0) {
    fail(name, `${cfg.notebook} has no setup cell or no plain code cell after it to run`);
    return;
  }
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${cfg.labUrl}/lab/tree/${cfg.notebook}?reset&token=${cfg.token}`, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.locator(ACTIVE).waitFor({ state: "visible", timeout: 90_000 });
  await page.locator(`${ACTIVE} .jp-Cell`).first().click(); // the slideshow starts at the selected cell
  // As a teacher does: View → Render as Reveal Slideshow (RISE's preview, beside the notebook).
  await page.locator(".lm-MenuBar-itemLabel", { hasText: /^View$/ }).click();
  await page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel", { hasText: /^Render as Reveal Slideshow$/ }).click();
  let frame = null;
  for (let k = 0; k < 60 && !frame; k++) {
    await sleep(500);
    frame = page.frames().find((f) => f.url().includes(`/rise/${cfg.notebook}`)) || null;
  }
  if (!frame) {
    fail(name, "View → Render as Reveal Slideshow opened no RISE view");
    await page.close();
    return;
  }
  await frame.locator(".reveal .slides section").first().waitFor({ state: "attached", timeout: 60_000 });
  const present = () =>
    frame.evaluate(() => {
      const p = [...document.querySelectorAll(".reveal .slides section.present")].pop();
      return p ? [...p.querySelectorAll(".jp-CodeCell .jp-InputArea-editor")].map((e) => e.textContent) : [];
    });
  const runs = [];
  for (const i of [setup, plain]) {
    const head = cfg.cells[i].head;
    let found = false;
    for (let k = 0; k < 60 && !found; k++) {
      found = (await present()).some((t) => t.startsWith(head));
      if (!found) {
        await frame.locator(".reveal").first().press("ArrowRight");
        await sleep(400);
      }
    }
    if (!found) {
      fail(name, `no slide of the RISE view shows cell ${i} (${head}…)`);
      console.log(`     screenshot: ${await shot(page, "rise.png")}`);
      await page.close();
      return;
    }
    const cell = frame.locator(".reveal .slides section.present .jp-CodeCell").filter({ has: frame.locator(".jp-InputArea-editor", { hasText: head }) }).last();
    const before = (await cell.locator(".jp-InputPrompt").textContent()) || "";
    await cell.locator(".jp-InputArea-editor").click();
    await page.keyboard.press("Control+Enter"); // run in place (Shift+Enter would also move on)
    const t0 = Date.now();
    let prompt = before;
    while (Date.now() - t0 < 240_000) {
      prompt = ((await cell.locator(".jp-InputPrompt").textContent()) || "").trim();
      if (/\[\d+\]/.test(prompt) && prompt !== before.trim()) break;
      await sleep(500);
    }
    const out = ((await cell.locator(".jp-OutputArea").textContent().catch(() => "")) || "").trim();
    runs.push({ i, head, prompt, out, seconds: (Date.now() - t0) / 1000 });
  }
  await sleep(500);
  console.log(`     screenshot: ${await shot(page, "rise.png")}`);
  const [s, p] = runs;
  const bad = runs.filter((r) => !/\[\d+\]/.test(r.prompt) || PANIC_RE.test(r.out) || /^error/im.test(r.out));
  if (bad.length) fail(name, bad.map((r) => `cell ${r.i} (${r.head}…): prompt ${r.prompt}, output ${r.out.slice(0, 120)}`).join("; "));
  else if (!p.out) fail(name, `cell ${p.i} (${p.head}…) ran (${p.prompt}) but shows no output`);
  else ok(name, `View → Render as Reveal Slideshow; setup cell ${s.i} ran ${s.prompt} in ${s.seconds.toFixed(0)} s, cell ${p.i} ran ${p.prompt}: "${p.out.replace(/\s+/g, " ").slice(0, 60)}"`);
  if (errors.length) console.log(`     (page errors: ${errors.slice(0, 3).join(" | ")})`);
  await page.close();
}

// ---------- every slide fits ----------
async function fit() {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 720 });
  const over = {}; // stem -> id -> {title, ratio}
  const problems = [];
  let total = 0;
  const noOutputs = [];
  for (const deck of cfg.decks) {
    const errors = [];
    const onError = (e) => errors.push(String(e));
    page.on("pageerror", onError);
    await page.goto(deck.page, { waitUntil: "load", timeout: 60_000 });
    try {
      await page.waitForFunction(() => window.Reveal && Reveal.isReady && Reveal.isReady(), null, { timeout: 30_000 });
    } catch {
      problems.push(`${deck.stem}: reveal.js did not start (${errors.join(" | ") || "no page error"})`);
      page.off("pageerror", onError);
      continue;
    }
    page.off("pageerror", onError);
    if (!deck.outputs) noOutputs.push(deck.stem);
    const measured = await page.evaluate(async () => {
      Reveal.configure({ transition: "none", backgroundTransition: "none" });
      await Promise.all([...document.images].map((i) => (i.complete ? null : new Promise((r) => { i.onload = i.onerror = r; }))));
      const height = Reveal.getConfig().height;
      return Reveal.getSlides().map((section) => {
        const idx = Reveal.getIndices(section);
        Reveal.slide(idx.h, idx.v);
        const cell = section.querySelector("[id^='cell-id=']");
        const heading = section.querySelector("h1, h2, h3, h4");
        return {
          h: idx.h, v: idx.v ?? 0,
          id: cell ? cell.id.slice("cell-id=".length) : `slide-${idx.h}-${idx.v ?? 0}`,
          title: (heading?.textContent || section.textContent || "").replace(/¶/g, "").replace(/\s+/g, " ").trim().slice(0, 60),
          ratio: section.scrollHeight / height,
        };
      });
    });
    total += measured.length;
    const exempt = cfg.slideFitExempt[deck.stem] || {};
    const seen = new Set();
    for (const m of measured) {
      seen.add(m.id);
      const tooTall = m.ratio > 1.005;
      if (tooTall) (over[deck.stem] ||= {})[m.id] = `${m.title} — ${m.ratio.toFixed(2)}× the slide height`;
      if (tooTall && !(m.id in exempt)) problems.push(`${deck.stem} slide ${m.h}/${m.v} "${m.title}" (cell ${m.id}): ${m.ratio.toFixed(2)}× the slide height`);
      // (A deck measured without its outputs cannot tell whether a listed slide fits now. A listed slide must fit
      // with room to spare, 95 % of the height, to come off the list: outputs vary from run to run, and a slide at
      // the edge would otherwise pass and fail by turns.)
      if (m.ratio <= 0.95 && m.id in exempt && deck.outputs) problems.push(`${deck.stem} slide ${m.h}/${m.v} "${m.title}" (cell ${m.id}) fits now — take it off ${cfg.slideFitExemptFile}`);
    }
    for (const id of Object.keys(exempt))
      if (!seen.has(id)) problems.push(`${deck.stem}: ${cfg.slideFitExemptFile} lists a slide starting at cell ${id}, which no slide does now — take it off`);
  }
  for (const stem of Object.keys(cfg.slideFitExempt))
    if (!cfg.decks.some((d) => d.stem === stem)) problems.push(`${cfg.slideFitExemptFile} lists ${stem}, which has no deck`);
  fs.writeFileSync(path.join(cfg.outDir, "slide-fit.json"), JSON.stringify(over, null, 1) + "\n");
  const nOver = Object.values(over).reduce((n, o) => n + Object.keys(o).length, 0);
  const worst = Object.entries(over).flatMap(([stem, o]) => Object.values(o).map((t) => [stem, t])).sort((a, b) => parseFloat(b[1].split("— ").pop()) - parseFloat(a[1].split("— ").pop())).slice(0, 3).map(([s, t]) => `${s} "${t}"`);
  const nListed = Object.values(cfg.slideFitExempt).reduce((n, o) => n + Object.keys(o).length, 0);
  const summary = `${nOver} of ${total} slides in ${cfg.decks.length} decks taller than the slide${nOver ? ` (worst: ${worst.join("; ")})` : ""}, ${nListed} listed in ${cfg.slideFitExemptFile}; all in ${path.join(cfg.outDir, "slide-fit.json")}` +
    (noOutputs.length ? `; measured without outputs (no executed copy newer than the notebook): ${noOutputs.join(", ")}` : "");
  if (problems.length) fail("fit: every slide fits 1280×720 or is listed", `${summary}\n     ${problems.slice(0, 40).join("\n     ")}${problems.length > 40 ? `\n     … and ${problems.length - 40} more` : ""}`);
  else ok("fit: every slide fits 1280×720 or is listed", summary);
  await page.close();
}

// ---------- make lab's URL ----------
async function labIndex() {
  const name = "lab: make lab opens the index";
  const u = new URL(cfg.printedUrl);
  if (u.pathname !== `/lab/tree/${cfg.index}` || !u.searchParams.get("token")) {
    fail(name, `JupyterLab printed ${u.pathname}?${u.search ? "token=…" : ""}, not /lab/tree/${cfg.index}?token=…`);
    return;
  }
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(cfg.printedUrl, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.locator(ACTIVE).waitFor({ state: "visible", timeout: 90_000 });
  const title = page.locator(`${ACTIVE} h1`, { hasText: cfg.indexTitle }).first();
  await title.waitFor({ state: "visible", timeout: 30_000 }).catch(() => {});
  // The news question and the update prompt are toasts that show a moment after the page loads.
  await sleep(5000);
  const seen = await page.evaluate(() => ({
    tab: document.querySelector("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")?.textContent?.trim() || "",
    toasts: [...document.querySelectorAll(".Toastify__toast")].map((t) => t.textContent.trim().slice(0, 100)),
    path: location.pathname,
  }));
  const titled = await title.isVisible();
  console.log(`     screenshot: ${await shot(page, "lab-index.png")}`);
  if (seen.tab !== cfg.index || !titled)
    fail(name, `the current tab is "${seen.tab}" (want ${cfg.index}), the title "${cfg.indexTitle}" ${titled ? "shows" : "does not show"}`);
  else if (seen.toasts.length) fail(name, `notifications pop up: ${seen.toasts.join(" | ")}`);
  else ok(name, `${u.origin}${u.pathname}?token=… shows ${cfg.index} ("${cfg.indexTitle}"), no notification in 5 s`);
  await page.close();
}

// ---------- exported HTML ----------
async function html() {
  const page = await context.newPage();
  await page.goto(cfg.htmlPage, { waitUntil: "load", timeout: 60_000 });
  const off = await offMachineAttributes(page);
  if (off.length) fail("html: offline page", `loads from another machine: ${off.slice(0, 5).join(", ")}`);
  else ok("html: offline page", "every src and <link href> is local or data:");
  const imgs = page.locator("img[src^='data:image/svg+xml']");
  const n = await imgs.count();
  const drawn = await page.evaluate(() =>
    [...document.querySelectorAll("img[src^='data:image/svg+xml']")].filter((i) => i.complete && i.naturalWidth > 0).length,
  );
  if (n < cfg.figures || drawn !== n) fail("html: charts render", `${n} SVG charts in the page (the notebook has ${cfg.figures}), ${drawn} drawn`);
  else ok("html: charts render", `${n} SVG charts drawn`);
  if (n) await imgs.first().scrollIntoViewIfNeeded();
  console.log(`     screenshot: ${await shot(page, "html.png")}`);
  await page.close();
}

// ---------- slides ----------
async function slides() {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(cfg.slidesPage, { waitUntil: "load", timeout: 60_000 });
  const off = await offMachineAttributes(page);
  if (off.length) fail("slides: offline deck", `loads from another machine: ${off.slice(0, 5).join(", ")}`);
  else ok("slides: offline deck", "reveal.js, require.js and jQuery from vendor/, nothing from another machine");
  try {
    await page.waitForFunction(() => window.Reveal && typeof Reveal.isReady === "function" && Reveal.isReady(), null, { timeout: 30_000 });
  } catch {
    fail("slides: reveal.js ready", `Reveal did not start (page errors: ${errors.join(" | ") || "none"})`);
    console.log(`     screenshot: ${await shot(page, "slide.png")}`);
    await page.close();
    return;
  }
  // One slide per cell typed slide or subslide (the first visible cell always opens one); none for skip.
  const visible = cfg.deckSlideTypes.filter((t) => !["notes", "skip"].includes(t));
  const wantSlides = visible.filter((t, i) => i === 0 || t === "slide" || t === "subslide").length;
  const wantNotes = cfg.cells.filter((c) => c.slide === "notes").length;
  const info = await page.evaluate(() => ({
    slides: Reveal.getTotalSlides(),
    notes: document.querySelectorAll(".reveal aside.notes").length,
    version: Reveal.VERSION,
  }));
  const present = page.locator(".reveal .slides section.present").first();
  const visibleNow = await present.isVisible();
  if (!visibleNow || info.slides !== wantSlides || errors.length)
    fail("slides: render", `${info.slides} slides (want ${wantSlides}), current slide visible: ${visibleNow}, page errors: ${errors.join(" | ") || "none"}`);
  else ok("slides: render", `reveal.js ${info.version}, ${info.slides} slides, no page error`);

  // Speaker notes: the notes cells, on their slides, and in the speaker view.
  if (info.notes !== wantNotes) {
    fail("slides: speaker notes", `${info.notes} notes in the deck, the notebook has ${wantNotes} notes cells`);
  } else if (wantNotes) {
    const where = await page.evaluate(() => {
      const aside = document.querySelector(".reveal aside.notes");
      const idx = Reveal.getIndices(aside.closest("section"));
      Reveal.slide(idx.h, idx.v);
      return { idx, text: Reveal.getSlideNotes() || "" };
    });
    let viewer = "";
    try {
      const [popup] = await Promise.all([context.waitForEvent("page", { timeout: 10_000 }), page.keyboard.press("s")]);
      await popup.waitForFunction(() => (document.querySelector(".speaker-controls-notes .value")?.textContent || "").trim().length > 0, null, { timeout: 15_000 });
      viewer = await popup.evaluate(() => document.querySelector(".speaker-controls-notes .value").textContent);
      await popup.close();
    } catch (e) {
      viewer = `(speaker view: ${String(e).split("\n")[0]})`;
    }
    const head = where.text.replace(/<[^>]+>/g, "").trim().slice(0, 40);
    if (!head) fail("slides: speaker notes", `slide ${where.idx.h}/${where.idx.v} has no notes text`);
    else if (!viewer.includes(head.slice(0, 20))) fail("slides: speaker notes", `the speaker view does not show the notes: ${viewer.slice(0, 120)}`);
    else ok("slides: speaker notes", `${info.notes} notes; slide ${where.idx.h}/${where.idx.v} and its speaker view show "${head}…"`);
  }

  // Go to the first slide with a chart, scroll it into view, and check it is drawn.
  const where = await page.evaluate(() => {
    const img = document.querySelector(".reveal .slides img[src^='data:image/svg+xml']");
    if (!img) return null;
    const idx = Reveal.getIndices(img.closest("section"));
    Reveal.slide(idx.h, idx.v, 1000); // all fragments shown
    return idx;
  });
  if (!where) {
    if (cfg.figures) fail("slides: chart", "no chart in the deck (was it built from the executed notebook?)");
  } else {
    await sleep(1000); // the slide transition
    const drawn = await page.evaluate(() => {
      const img = document.querySelector(".reveal .slides section.present img[src^='data:image/svg+xml']");
      if (!img) return false;
      img.scrollIntoView({ block: "end" });
      const r = img.getBoundingClientRect();
      return img.complete && img.naturalWidth > 0 && r.width > 100 && r.top >= 0 && r.bottom <= innerHeight + 1;
    });
    if (!drawn) fail("slides: chart", `the chart on slide ${where.h}/${where.v} is not drawn in view`);
    else ok("slides: chart", `slide ${where.h}/${where.v} shows a chart`);
  }
  console.log(`     screenshot: ${await shot(page, "slide.png")}`);
  await page.close();
}

for (const [name, step] of [["lab-index", labIndex], ["lab", lab], ["rise", rise], ["html", html], ["slides", slides], ["fit", fit]]) {
  if (cfg.skip?.includes(name)) continue;
  try {
    await step();
  } catch (e) {
    fail(name, String(e).split("\n").slice(0, 6).join("\n     "));
  }
}
await browser.close();

const off = [...new Set(requests.filter((u) => !isLocal(u)))];
if (off.length) fail("no request left the machine", off.slice(0, 10).join(", "));
else ok("no request left the machine", `${requests.length} requests, all to 127.0.0.1, file: or data:`);

const failed = results.filter((r) => !r.ok).length;
console.log(`browser-test: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
