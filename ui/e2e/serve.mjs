// End-to-end: the UI in Debian's Chromium (playwright-core) against `retort serve`, with
// real SQLite, PostgreSQL and MariaDB databases prepared by tests/ui_e2e.rs.
//
// Environment: RETORT_BIN, E2E_DEMO (a copy of demo/), E2E_BROKEN (a project with a missing
// parent), E2E_PG_URL, E2E_MY_URL_WRONG, E2E_MY_PASSWORD, E2E_STAGING_DB, E2E_SCREENSHOTS.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { envFrom, launchChromium, onStepFailure, pageReport, screenshotsDir, screenshotter, startServer as start, step, watchConsole } from "./harness.mjs";

const env = envFrom("tests/ui_e2e.rs");
const shots = screenshotsDir(env);
const home = mkdtempSync(join(tmpdir(), "retort-e2e-home-"));

/** Starts `retort serve` on a random port; resolves with its URL and the child. */
export const startServer = (project, extraEnv = {}) => start(env("RETORT_BIN"), project, home, extraEnv);

const { url, child } = await startServer(env("E2E_DEMO"));
const browser = await launchChromium();
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page, consoleErrors);
  page.on("dialog", (d) => d.accept());
  page.setDefaultTimeout(15000);
  const shot = screenshotter(page, shots);
  onStepFailure(pageReport(page, consoleErrors, shot));
  const tab = (name) => page.click(`#tab-${name}`);
  const verdict = () => page.locator('[data-testid="test-verdict"]');

  await step("the token URL opens the demo workspace on its graph", async () => {
    await page.goto(url);
    assert.ok(!page.url().includes("token="), "the token stays out of the address bar");
    await page.waitForSelector('.row[data-id="a0e7d5c3b861"]');
    assert.equal(await page.locator('[data-testid="workspace-title"]').textContent(), "demo");
  });

  await step("workspace: project kind, no problems", async () => {
    await tab("workspace");
    await page.waitForSelector('[data-testid="workspace-card"]');
    assert.equal(await page.locator('[data-testid="project-kind"]').textContent(), "Native SQL project");
    await page.getByText("No problems").waitFor();
    await shot("1-workspace");
  });

  await step("workspace: a broken project lists its problems, each opens its source", async () => {
    await page.fill("#project-path", env("E2E_BROKEN"));
    await page.click('[data-testid="open-path"]');
    const problem = page.locator('[data-testid="problems"] .problem').first();
    await problem.waitFor();
    assert.match(await problem.textContent(), /missing parent/);
    assert.match(await problem.textContent(), /versions\/.*\.sql:2/);
    await problem.locator("button.link").click();
    await page.waitForSelector(".source-dialog .line.marked");
    assert.match(await page.locator(".source-dialog .line.marked").textContent(), /down_revision: ffff00000000/);
    await shot("2-problems-source");
    await page.keyboard.press("Escape");
    await page.fill("#project-path", env("E2E_DEMO"));
    await page.click('[data-testid="open-path"]');
    await page.getByText("No problems").waitFor();
  });

  await step("connections: keychain availability is shown", async () => {
    await tab("connections");
    await page.waitForSelector('[data-testid="keychain-status"]');
  });

  const addFromUrl = async (name, urlText, environment, storage) => {
    await page.click('[data-testid="add-connection"]');
    const form = page.locator('[data-testid="connection-form"]');
    await form.locator('input[name="url"]').fill(urlText);
    await form.getByText("Fill from URL").click();
    await page.getByText("The form was filled from the URL.").waitFor();
    await form.locator('input[name="name"]').fill(name);
    await form.locator('input[name="environment"]').fill(environment);
    await form.locator('input[name="environment"]').dispatchEvent("change");
    if (storage) await form.locator('select[name="passwordChoice"]').selectOption(storage);
    await form.locator('button[type="submit"]').click();
  };

  await step("connections: add PostgreSQL (production) and test it", async () => {
    await addFromUrl("production", env("E2E_PG_URL"), "production", "none");
    await verdict().waitFor();
    assert.equal(await verdict().textContent(), "production: connection works");
    const card = page.locator('[data-testid="test-result"]');
    const text = await card.textContent();
    assert.match(text, /PostgreSQL 1\d/);
    assert.match(text, /up to date/);
    assert.match(text, /Migration lock/);
    assert.match(text, /pg_dump/);
    await shot("3-connection-test-postgres");
  });

  await step("connections: add SQLite (staging) with the file field", async () => {
    await page.click('[data-testid="add-connection"]');
    const form = page.locator('[data-testid="connection-form"]');
    await form.locator('input[name="name"]').fill("staging");
    await form.locator('select[name="driver"]').selectOption("sqlite");
    await form.locator('input[name="sqlitePath"]').fill(env("E2E_STAGING_DB"));
    await form.locator('input[name="environment"]').fill("staging");
    await form.locator('button[type="submit"]').click();
    await verdict().waitFor();
    assert.equal(await verdict().textContent(), "staging: connection works");
    assert.match(await page.locator('[data-testid="test-result"]').textContent(), /behind by/);
  });

  await step("connections: a wrong password is classified, with advice; the right one works", async () => {
    await addFromUrl("mariadb-dev", env("E2E_MY_URL_WRONG"), "development", "ask");
    const pw = page.locator('input[name="test-password"]');
    await pw.waitFor();
    await pw.fill("Wr0ng-Password");
    await pw.press("Enter");
    await verdict().waitFor();
    assert.equal(await verdict().textContent(), "mariadb-dev: authentication failed");
    const failure = await page.locator('[data-testid="test-failure"]').textContent();
    assert.match(failure, /1045/);
    assert.match(failure, /check the user name and password/);
    assert.ok(!failure.includes("Wr0ng-Password"), "the password is not shown");
    await shot("4-connection-test-wrong-password");
    await page.locator('[data-connection="mariadb-dev"] [data-testid="test-mariadb-dev"]').click();
    await pw.waitFor();
    await pw.fill(env("E2E_MY_PASSWORD"));
    await pw.press("Enter");
    await verdict().waitFor();
    assert.equal(await verdict().textContent(), "mariadb-dev: connection works");
    const rows = await page.locator('[data-testid="connections"] tbody tr').count();
    assert.equal(rows, 3);
    await shot("5-connections");
  });

  await step("graph: chips on each connection's revision, applied and pending for the overlay", async () => {
    await tab("graph");
    await page.waitForSelector('.legend [data-chip="production"]');
    // production is at both heads, staging at 4d1f6a92c0b7, the project's own file at 3c44d0e8b915.
    const chipRows = async (name) =>
      page.locator(`.row:has([data-chip="${name}"])`).evaluateAll((els) => els.map((e) => e.dataset.id).sort());
    assert.deepEqual(await chipRows("production"), ["8b0d3e6f1c58", "a0e7d5c3b861"]);
    assert.deepEqual(await chipRows("staging"), ["4d1f6a92c0b7"]);
    assert.deepEqual(await chipRows("project"), ["3c44d0e8b915"]);
    await page.selectOption('[data-testid="overlay"]', "staging");
    const pending = await page.locator(".row.pending").evaluateAll((els) => els.map((e) => e.dataset.id).sort());
    const applied = await page.locator(".row.applied").evaluateAll((els) => els.map((e) => e.dataset.id).sort());
    assert.deepEqual(applied, ["1a0c5e2b7d01", "2b7e91c4a3f2", "3c44d0e8b915", "4d1f6a92c0b7"]);
    assert.equal(pending.length, 6);
    await shot("6-graph-staging-overlay");
  });

  await step("graph: search, keyboard, open a node and its parent", async () => {
    await page.fill('[data-testid="search"]', "reviews");
    await page.waitForSelector(".row.match.selected");
    const matched = await page.locator(".row.match").count();
    assert.ok(matched >= 2, `matches: ${matched}`);
    await page.locator('.row[data-id="7a5be04c9f12"]').click();
    const detail = page.locator('[data-testid="detail"]');
    await detail.locator("h2", { hasText: "7a5be04c9f12" }).waitFor();
    assert.match(await detail.textContent(), /mergepoint/);
    assert.match(await detail.locator(".code").textContent(), /migrate:up/);
    await shot("7-graph-detail");
    await detail.locator('[data-testid="parents"] button', { hasText: "6f29c8d1e7a3" }).click();
    await detail.locator("h2", { hasText: "6f29c8d1e7a3" }).waitFor();
    assert.ok(await page.locator('.row.selected[data-id="6f29c8d1e7a3"]').count());
    await page.keyboard.press("ArrowDown");
    await page.waitForSelector('.row.selected:not([data-id="6f29c8d1e7a3"])');
    await page.keyboard.press("Enter");
    await page.click('[data-testid="fit"]');
    await shot("8-graph-fit");
  });

  await step("dark theme follows the OS", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(13, 17, 23)");
    await shot("9-graph-dark");
  });

  assert.deepEqual(consoleErrors, [], "no console errors");
} finally {
  await browser.close();
  child.kill();
  rmSync(home, { recursive: true, force: true });
}
console.log("all UI steps passed");
