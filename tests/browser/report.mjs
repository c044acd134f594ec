// The report in a real browser: headless Chromium (Debian's package) opens a report.html, and
// the page must load without a script error, sort the sessions table when a heading is clicked,
// open a folded section when its summary is clicked, and leave a screenshot.
//
// Usage: node report.mjs REPORT.html SCREENSHOT.png   (run by .ci/run on the demo's report)
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [report, shot] = process.argv.slice(2);
if (!report || !shot) {
  console.error("usage: node report.mjs REPORT.html SCREENSHOT.png");
  process.exit(2);
}

const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // The machine has no network: background connections are only refused noise.
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console error: ${m.text()}`);
  });
  await page.goto(pathToFileURL(report).href, { waitUntil: "load" });
  check((await page.locator("h1").first().textContent()) === "logsieve report", "the page has no 'logsieve report' heading");
  // The page as a reader first sees it.
  await page.screenshot({ path: shot, fullPage: false });

  // Sorting: the sessions come most anomalous first; a click on "score" sorts them ascending,
  // a second click descending again.
  const scores = () => page.$$eval("#top tbody", (bodies) => bodies.map((b) => parseFloat(b.rows[0].cells[2].innerText)));
  const keys = () => page.$$eval("#top tbody", (bodies) => bodies.map((b) => b.rows[0].cells[0].innerText));
  const before = await scores();
  check(before.length >= 2, `the sessions table has ${before.length} rows`);
  const sorted = (xs, dir) => xs.every((x, i) => i === 0 || (dir > 0 ? xs[i - 1] <= x : xs[i - 1] >= x));
  check(sorted(before, -1), "the sessions do not come most anomalous first");
  const header = page.locator("#top thead th", { hasText: /^score$/ });
  await header.click();
  const up = await scores();
  check(sorted(up, 1), `a click on 'score' did not sort ascending: ${up.slice(0, 5)}`);
  check(up.length === before.length && up.join() !== before.join(), "the click did not reorder the rows");
  await header.click();
  check(sorted(await scores(), -1), "a second click did not sort descending");
  const byKey = page.locator("#top thead th", { hasText: /^session$/ });
  await byKey.click();
  const k = await keys();
  check(k.every((x, i) => i === 0 || k[i - 1].localeCompare(x) <= 0), "a click on 'session' did not sort the keys");

  // Folded details: a closed one opens on a click on its summary, and its content shows.
  const folded = await page.$("details:not([open])");
  check(folded !== null, "no folded section on the page");
  if (folded !== null) {
    await (await folded.$("summary")).click();
    check(await folded.evaluate((d) => d.open), "a click on a summary did not open its section");
    const box = await (await folded.$(":scope > :not(summary)")).boundingBox();
    check(box !== null && box.height > 0, "the opened section shows nothing");
  }

  check(errors.length === 0, errors.join("; "));
} finally {
  await browser.close();
}

if (problems.length > 0) {
  for (const p of problems) console.error(`report in the browser: ${p}`);
  process.exit(1);
}
console.log(`report in the browser: loads without script errors, sorts, unfolds; screenshot ${shot}`);
