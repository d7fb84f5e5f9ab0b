// Shared by the browser end-to-end scripts (serve.mjs, operations.mjs, manage.mjs): the
// environment the Rust test sets, the screenshots directory, `retort serve` on a random port,
// Chromium, the console-error watch and the numbered steps.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** Reads a required environment variable; `test` is the Rust test that sets them. */
export const envFrom = (test) => (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ${test})`);
  return v;
};

/** E2E_SCREENSHOTS, created. */
export function screenshotsDir(env) {
  const shots = env("E2E_SCREENSHOTS");
  mkdirSync(shots, { recursive: true });
  return shots;
}

/** Saves a screenshot of `page` as `<shots>/<prefix><name>.png`. */
export const screenshotter = (page, shots, prefix = "") => (name) =>
  page.screenshot({ path: join(shots, `${prefix}${name}.png`) });

/** Starts `retort serve` on a random port; resolves with its URL and the child. */
export function startServer(bin, project, home, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", project, "--no-open"], {
      env: { ...process.env, RETORT_HOME: home, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/);
      if (m) resolve({ url: m[1], child });
    });
    child.on("exit", (code) => reject(new Error(`retort serve exited ${code}: ${out}${err}`)));
    setTimeout(() => reject(new Error(`retort serve printed no URL: ${out}${err}`)), 20000);
  });
}

/** Debian's Chromium (or $CHROMIUM). */
export const launchChromium = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      // This machine's network is closed: Chromium's own background requests only fail and add load.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });

/** Collects the page's console errors and uncaught exceptions into `errors`. */
export function watchConsole(page, errors) {
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
}

let failureReport = null;
/** What a failing step prints besides its error: `fn` returns lines (it may also take a screenshot). */
export const onStepFailure = (fn) => (failureReport = fn);

/** The page's status line and any console errors, and a screenshot named `failed-…`. */
export const pageReport = (page, consoleErrors, shot) => async () => {
  const status = await page
    .locator('div.status[role="status"]')
    .first()
    .textContent({ timeout: 2000 })
    .catch(() => "(no status line)");
  await shot?.("failed").catch(() => {});
  return [`status line: ${status}`, ...consoleErrors.map((e) => `console error: ${e}`)];
};

/** Runs one named step, printing `ok name (ms)` or `FAIL name` and the failure report. */
export const step = async (name, fn) => {
  const t = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    console.log(`FAIL ${name} (after ${Date.now() - t} ms)`);
    if (failureReport) {
      const lines = await Promise.resolve(failureReport()).catch((r) => [`(the failure report failed: ${r})`]);
      for (const l of lines) console.log(`     ${l}`);
    }
    throw e;
  }
};
