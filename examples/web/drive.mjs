// Run the web reader in headless Chromium with a fake camera playing a .y4m file, and print what the page read as
// one JSON object: {info, frames: [{index, text, boxes, confidences, ms, png}, ...]}. Used by the tests and the
// benchmark; Chromium is the system's (Debian's `chromium`), driven by puppeteer-core (no browser download).
//
//   node drive.mjs --url http://127.0.0.1:PORT/?record=40 --y4m scenes.y4m --frames 40 [--timeout 60]
//                  [--screenshot page.png] [--out result.json] [--chromium /usr/bin/chromium]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import puppeteer from "puppeteer-core";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" }, y4m: { type: "string" }, frames: { type: "string", default: "1" },
    timeout: { type: "string", default: "60" }, screenshot: { type: "string" }, out: { type: "string" },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
  },
});
if (!opt.url || !opt.y4m) {
  console.error("usage: node drive.mjs --url URL --y4m FILE.y4m [--frames N] [--timeout S] [--screenshot F] [--out F]");
  process.exit(2);
}

const browser = await puppeteer.launch({
  executablePath: opt.chromium,
  headless: true,
  args: [
    "--use-fake-ui-for-media-stream",  // allow the camera without asking
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${opt.y4m}`,
    "--no-sandbox",  // CI runs as root, where Chromium's sandbox refuses to start
    "--mute-audio",
  ],
});
let code = 0;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 700, height: 720 });
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(opt.url, { waitUntil: "load" });
  const wanted = Number(opt.frames);
  await page.waitForFunction(
    (n) => window.edgedigits && (window.edgedigits.state === "error" || window.edgedigits.processed >= n),
    { timeout: Number(opt.timeout) * 1000, polling: 100 }, wanted);
  const result = await page.evaluate(() => window.edgedigits);
  result.logs = logs;
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot });
  const text = JSON.stringify(result);
  if (opt.out) writeFileSync(opt.out, text);
  else process.stdout.write(text + "\n");
  if (result.state === "error") {
    console.error(`drive.mjs: the page failed: ${result.error}`);
    code = 1;
  }
} catch (err) {
  console.error(`drive.mjs: ${err.message}`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
