import { chromium } from "playwright-core";
const [page_url, out, ...slides] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
const page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
await page.goto(page_url, { waitUntil: "load" });
await page.waitForFunction(() => window.Reveal && Reveal.isReady && Reveal.isReady());
for (const s of slides) {
  const [h, v] = s.split("/").map(Number);
  await page.evaluate(([h, v]) => { Reveal.configure({ transition: "none" }); Reveal.slide(h, v); }, [h, v]);
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${out}/${h}-${v}.png` });
}
await browser.close();
