// Benchmark: the history graph of a 10,000-revision project in Chromium, through
// `retort serve`. Measures time to first paint of the graph (navigation start → the first
// rows drawn and painted) and frame times while scrolling through it.
//
//   node ui/e2e/bench.mjs RETORT_BIN [REVISIONS]   (scripts/bench/ui_graph.sh runs it)
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
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

generate();
const { url, child } = await serve();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const results = [];
try {
  for (let run = 0; run < 5; run++) {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(url);
    await page.waitForFunction(() => (window).__graphPaintedAt !== undefined && document.querySelectorAll(".row").length > 10);
    // The frame after the rows went into the DOM is the one that shows them.
    const paint = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
    const rows = await page.evaluate(() => document.querySelectorAll(".row").length);
    // Scroll through the graph for 4 s at 3,000 px/s (about 100 rows a second), one step a frame.
    const frames = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const v = document.querySelector(".graph-viewport");
          const graph = window.__retort.screens.graph;
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
            void v.querySelector(".graph-rows").getBoundingClientRect().height;
            work.push(performance.now() - t0);
            if (now - start < 4000) requestAnimationFrame(tick);
            else resolve({ deltas: deltas.slice(1), work, top: v.scrollTop });
          };
          requestAnimationFrame(tick);
        }),
    );
    results.push({ paint, rows, frames: frames.deltas, work: frames.work, top: frames.top });
    await page.close();
  }
} finally {
  await browser.close();
  child.kill();
  rmSync(dir, { recursive: true, force: true });
}
const paints = results.map((r) => r.paint);
const frames = results.flatMap((r) => r.frames);
const work = results.flatMap((r) => r.work);
const summary = {
  revisions: N,
  runs: results.length,
  firstPaintMs: { min: Math.min(...paints), median: pct(paints, 50), max: Math.max(...paints) },
  rowsInDom: results[0].rows,
  frames: frames.length,
  frameMs: { p50: pct(frames, 50), p95: pct(frames, 95), p99: pct(frames, 99), max: Math.max(...frames) },
  // A frame interval over 25 ms means a vsync (60 Hz) was missed.
  droppedFrames: frames.filter((f) => f > 25).length,
  scrollStepWorkMs: { p50: pct(work, 50), p95: pct(work, 95), p99: pct(work, 99), max: Math.max(...work) },
  scrolledToPx: results.map((r) => r.top),
};
console.log(JSON.stringify(summary, null, 2));
