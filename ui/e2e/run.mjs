// Drive Debian chromium (playwright-core) through one LiveSense browser session.
//   node run.mjs '{"url": "...", "wav": "a.wav", "y4m": "v.y4m", "seconds": 8, "screenshot": "x.png"}'
// Fake mic/camera from files, autoplay allowed, audio NOT muted (PULSE_SINK in the
// environment routes it to a virtual speaker). Prints one JSON line: the page's snapshot.
import { chromium } from "playwright-core";

const o = JSON.parse(process.argv[2]);
const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream", `--use-file-for-fake-audio-capture=${o.wav}`,
  "--autoplay-policy=no-user-gesture-required",
];
if (o.y4m) args.push(`--use-file-for-fake-video-capture=${o.y4m}`);
const browser = await chromium.launch({
  executablePath: o.chromium || "/usr/bin/chromium", headless: true, args, ignoreDefaultArgs: ["--mute-audio"],
});
const logs = [];
let page;
try {
  page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(o.url, { waitUntil: "load" });
  await page.waitForSelector("#ls-start", { timeout: 30000 });
  await page.waitForFunction(() => window.__livesense !== undefined, null, { timeout: 30000 });
  const t0 = Date.now();
  await page.click("#ls-start");
  await page.waitForFunction(() => (window.__livesense.snapshot().state || "").startsWith("live"),
    null, { timeout: (o.readyTimeout || 60) * 1000 });
  const tLive = Date.now();
  await page.waitForTimeout(o.seconds * 1000);
  if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: true });
  const snap = await page.evaluate(() => window.__livesense.snapshot());
  await page.evaluate(() => window.__livesense.stop());
  await page.waitForTimeout(300);
  console.log(JSON.stringify({ ok: true, live_after_ms: tLive - t0, snapshot: snap, logs }));
} catch (e) {
  let state = null;
  try {
    state = await page.evaluate(() => document.querySelector("#ls-status")?.textContent);
  } catch (_) {}
  console.log(JSON.stringify({ ok: false, error: String(e), state, logs }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
