// Benchmark: the history graph of a 10,000-revision project in Chromium, through
// `retort serve`. Measures time to first paint of the graph (navigation start → the first
// rows drawn and painted) and, while scrolling through it, frame intervals with Chromium's
// frame rate capped at the vsync (60 Hz) and uncapped, the work of each scroll step, and
// long animation frames.
//
//   node ui/e2e/bench.mjs RETORT_BIN [REVISIONS]   (scripts/bench/ui_graph.sh runs it)
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";

const [retortBin, revisionsArg] = process.argv.slice(2);
const N = Number(revisionsArg ?? 10000);
const dir = mkdtempSync(join(tmpdir(), "retort-ui-bench-"));
const home = join(dir, "home");

// A native SQL project: a main line with a side branch of 8 revisions every 40 that merges
// back, a label every 500 revisions, and a second root with its own line.
function generate() {
  mkdirSync(join(dir, "project/versions"), { recursive: true });
  writeFileSync(join(dir, "project/retort.toml"), 'url = "sqlite:///bench.db"\nversions = ["versions"]\n');
  const id = (i) => i.toString(16).padStart(12, "0");
  let made = 0;
  let prev = null;
  const write = (rev, down, message, labels = "") => {
    writeFileSync(
      join(dir, "project/versions", `${rev}_r.sql`),
      `-- revision: ${rev}\n-- down_revision: ${down.join(", ")}\n${labels ? `-- branch_labels: ${labels}\n` : ""}-- message: ${message}\n\n-- migrate:up\nCREATE TABLE t_${rev} (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE t_${rev};\n`,
    );
    made++;
  };
  let i = 1;
  while (made < N - 200) {
    const rev = id(i++);
    write(rev, prev ? [prev] : [], `main change ${made}`, made % 500 === 0 ? `l${made}` : "");
    prev = rev;
    if (made % 40 === 0 && made + 9 < N - 200) {
      const fork = prev;
      let side = fork;
      for (let k = 0; k < 8; k++) {
        const s = id(i++);
        write(s, [side], `side change ${made}`);
        side = s;
      }
      const m = id(i++);
      write(m, [prev, side], `merge at ${made}`);
      prev = m;
    }
  }
  let other = null;
  while (made < N) {
    const rev = id(i++);
    write(rev, other ? [other] : [], `other root ${made}`, other ? "" : "other");
    other = rev;
  }
}

function serve() {
  return new Promise((resolve, reject) => {
    const child = spawn(retortBin, ["serve", join(dir, "project"), "--no-open"], {
      env: { ...process.env, RETORT_HOME: home },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/);
      if (m) resolve({ url: m[1], child });
    });
    child.on("exit", (c) => reject(new Error(`retort serve exited ${c}`)));
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// UI_DIST=dir serves the page's scripts and styles from that build instead of the ones
// embedded in the binary (to compare two versions of the UI against one server).
async function serveUiFrom(page, distDir) {
  await page.route(/\/(\?.*)?$|\/assets\//, async (route) => {
    const u = new URL(route.request().url());
    if (u.pathname.startsWith("/assets/")) {
      const file = join(distDir, u.pathname);
      const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : "application/octet-stream";
      return route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
    }
    // The page itself: the server's answer (it sets the session cookie), the build's HTML.
    const response = await route.fetch();
    return route.fulfill({ response, body: readFileSync(join(distDir, "index.html"), "utf8") });
  });
}

// One page load: time to first paint, then 4 s of scrolling, one 50 px step per frame.
async function measure(browser) {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  if (process.env.UI_DIST) await serveUiFrom(page, process.env.UI_DIST);
  await page.goto(url);
  await page.waitForFunction(() => window.__graphPaintedAt !== undefined && document.querySelectorAll(".row").length > 10);
  // The frame after the rows went into the DOM is the one that shows them.
  const paint = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
  const rows = await page.evaluate(() => document.querySelectorAll(".row").length);
  const r = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const v = document.querySelector(".graph-viewport");
        const graph = window.__retort.screens.graph;
        // Long animation frames (Chromium reports those over 50 ms): work, style, layout and
        // paint of one frame taken together.
        const loaf = [];
        const loafSupported = PerformanceObserver.supportedEntryTypes.includes("long-animation-frame");
        const observer = loafSupported ? new PerformanceObserver((list) => loaf.push(...list.getEntries())) : null;
        observer?.observe({ type: "long-animation-frame" });
        const deltas = [];
        const work = [];
        let last = performance.now();
        const start = last;
        const tick = (now) => {
          deltas.push(now - last);
          last = now;
          // The work of one scroll step: drawing the newly visible rows, style and layout.
          const t0 = performance.now();
          v.scrollTop += 50;
          graph.render();
          void v.querySelector(".row:last-child")?.getBoundingClientRect().top;
          work.push(performance.now() - t0);
          if (now - start < 4000) requestAnimationFrame(tick);
          else
            setTimeout(() => {
              observer?.takeRecords().forEach((e) => loaf.push(e));
              observer?.disconnect();
              const during = loaf.filter((e) => e.startTime >= start && e.startTime <= now);
              resolve({
                deltas: deltas.slice(1),
                work,
                top: v.scrollTop,
                loafSupported,
                loaf: during.map((e) => ({ duration: e.duration, blocking: e.blockingDuration })),
              });
            }, 100);
        };
        requestAnimationFrame(tick);
      }),
  );
  await page.close();
  return { paint, rows, ...r };
}

const round = (x) => Math.round(x * 10) / 10;
function summarize(results) {
  const paints = results.map((r) => r.paint);
  const frames = results.flatMap((r) => r.deltas);
  const work = results.flatMap((r) => r.work);
  const loaf = results.flatMap((r) => r.loaf);
  const refresh = pct(frames, 50);
  return {
    runs: results.length,
    firstPaintMs: { min: round(Math.min(...paints)), median: round(pct(paints, 50)), max: round(Math.max(...paints)) },
    rowsInDom: results[0].rows,
    frames: frames.length,
    framesPerSecond: round(frames.length / (frames.reduce((a, b) => a + b, 0) / 1000)),
    frameMs: { p50: round(refresh), p95: round(pct(frames, 95)), p99: round(pct(frames, 99)), max: round(Math.max(...frames)) },
    framesOver16ms: frames.filter((f) => f > 16).length,
    // At 60 Hz an interval over 25 ms means a vsync was missed.
    framesOver25ms: frames.filter((f) => f > 25).length,
    scrollStepWorkMs: { p50: round(pct(work, 50)), p95: round(pct(work, 95)), p99: round(pct(work, 99)), max: round(Math.max(...work)) },
    longAnimationFrames: results[0].loafSupported
      ? { count: loaf.length, maxMs: round(Math.max(0, ...loaf.map((e) => e.duration))), blockingMs: round(loaf.reduce((a, e) => a + e.blocking, 0)) }
      : "not supported",
    scrolledToPx: results.map((r) => r.top),
  };
}

generate();
const { url, child } = await serve();
// capped: Chromium's default, frames at the 60 Hz vsync. uncapped: no vsync and no frame
// rate limit, so a frame comes as soon as the previous one is done and its interval is the
// real cost of the frame.
const modes = {
  capped: [],
  uncapped: ["--disable-gpu-vsync", "--disable-frame-rate-limit"],
};
const only = process.env.BENCH_MODES?.split(",") ?? Object.keys(modes);
const summary = { revisions: N, loadAverageBefore: loadavg().map(round), chromium: null };
try {
  for (const mode of only) {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", ...modes[mode]],
    });
    summary.chromium = browser.version();
    try {
      const results = [];
      for (let run = 0; run < 5; run++) results.push(await measure(browser));
      summary[mode] = summarize(results);
    } finally {
      await browser.close();
    }
  }
} finally {
  child.kill();
  rmSync(dir, { recursive: true, force: true });
}
summary.loadAverageAfter = loadavg().map(round);
console.log(JSON.stringify(summary, null, 2));
