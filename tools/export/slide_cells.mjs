// Measures every slide of some decks cell by cell (tools/export/slide_report.py builds the decks and calls this).
//
//   node slide_cells.mjs CONFIG.json
//
// CONFIG: {chromium, decks: [{stem, page}], out}. Writes OUT: {stem: [{h, v, height, title, ratio,
// cells: [{id, top, height, input, output}]}]} — heights in the slide's own units (reveal.js's width × height box,
// before it is scaled to the screen); top is where the cell starts below the top of its slide.
import { chromium } from "playwright-core";
import fs from "node:fs";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const browser = await chromium.launch({
  executablePath: cfg.chromium || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
await context.route("**/*", (route) => (/^(file|data|blob|about):/.test(route.request().url()) ? route.continue() : route.abort()));
const page = await context.newPage();
const result = {};
for (const deck of cfg.decks) {
  await page.goto(deck.page, { waitUntil: "load", timeout: 60_000 });
  await page.waitForFunction(() => window.Reveal && Reveal.isReady && Reveal.isReady(), null, { timeout: 30_000 });
  result[deck.stem] = await page.evaluate(async () => {
    Reveal.configure({ transition: "none", backgroundTransition: "none" });
    await Promise.all([...document.images].map((i) => (i.complete ? null : new Promise((r) => { i.onload = i.onerror = r; }))));
    const height = Reveal.getConfig().height;
    return Reveal.getSlides().map((section) => {
      const idx = Reveal.getIndices(section);
      Reveal.slide(idx.h, idx.v);
      const heading = section.querySelector("h1, h2, h3, h4");
      const top = section.getBoundingClientRect().top;
      const scale = Reveal.getScale();
      const cells = [...section.querySelectorAll("[id^='cell-id=']")].map((el) => {
        const r = el.getBoundingClientRect();
        const part = (sel) => { const p = el.querySelector(sel); return p ? p.getBoundingClientRect().height / scale : 0; };
        return {
          id: el.id.slice("cell-id=".length),
          top: (r.top - top) / scale,
          height: r.height / scale,
          input: part(".jp-Cell-inputWrapper"),
          output: part(".jp-Cell-outputWrapper"),
        };
      });
      return {
        h: idx.h, v: idx.v ?? 0, height,
        title: (heading?.textContent || section.textContent || "").replace(/¶/g, "").replace(/\s+/g, " ").trim().slice(0, 60),
        ratio: section.scrollHeight / height,
        cells,
      };
    });
  });
}
fs.writeFileSync(cfg.out, JSON.stringify(result, null, 1) + "\n");
await browser.close();
