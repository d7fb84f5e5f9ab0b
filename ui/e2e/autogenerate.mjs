// End-to-end: Autogenerate on the Authoring screen in Debian's Chromium (playwright-core)
// against `retort serve`, prepared by tests/autogenerate.rs
// (autogenerate_in_the_app_reviews_previews_and_writes): an Alembic project at its first
// revision whose models have changed, its own SQLite URL (development), and `prod`, a saved
// production connection at the same revision.
//
// Environment: RETORT_BIN, RETORT_HOME, E2E_PROJECT, E2E_PROD_DB (the name to type),
// E2E_NATIVE_PROJECT (a native project whose SQLite database was changed by hand),
// E2E_SCREENSHOTS, RETORT_PYTHON (the venv with alembic).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { envFrom, launchChromium, onStepFailure, pageReport, screenshotsDir, screenshotter, startServer, step, watchConsole } from "./harness.mjs";

const env = envFrom("tests/autogenerate.rs");
const shots = screenshotsDir(env);
const project = env("E2E_PROJECT");
const versions = join(project, "migrations/versions");
const revisionFiles = () => readdirSync(versions).filter((f) => f.endsWith(".py"));

const { url, child } = await startServer(env("RETORT_BIN"), project, env("RETORT_HOME"));
const browser = await launchChromium();
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page, consoleErrors);
  page.setDefaultTimeout(60000);
  const shot = screenshotter(page, shots, "autogen-");
  onStepFailure(pageReport(page, consoleErrors, shot));
  const card = page.locator('[data-testid="autogenerate-card"]');
  // The card is on the page before its connections are listed: ready once it is not busy.
  const ready = () => page.locator('[data-testid="autogenerate-card"]:not([aria-busy])').waitFor();
  const ops = card.locator('[data-testid="autogen-ops"] > li');
  const upgrade = card.locator('[data-testid="autogen-preview-upgrade"]');
  const downgrade = card.locator('[data-testid="autogen-preview-downgrade"]');

  await step("the Authoring screen has Autogenerate for an Alembic project, development databases first", async () => {
    await page.goto(url);
    await page.click("#tab-authoring");
    await ready();
    const options = await card.locator('[data-testid="connection-picker"] option').allTextContents();
    assert.match(options[0], /^project URL/, options.join(" | "));
    assert.match(options[options.length - 1], /^prod \(production\)/, options.join(" | "));
    assert.ok(!(await card.locator('[data-testid="autogen-confirm"]').isVisible()), "no typed name for development");
  });

  await step("compare: every operation with its risks, and the preview of what alembic would write", async () => {
    await card.locator('[data-testid="autogen-message"]').fill("change");
    await card.locator('[data-testid="autogen-compare"]').click();
    await ops.first().waitFor();
    assert.equal(await ops.count(), 8);
    assert.match(await ops.nth(0).textContent(), /create table posts \(id INTEGER, user_id INTEGER, title VARCHAR\(100\), body TEXT\)/);
    assert.match(await ops.nth(7).textContent(), /drop column users\.email VARCHAR\(255\)/);
    assert.match(await ops.nth(7).textContent(), /⚠ loses data: the column's values/);
    assert.equal(await ops.nth(7).getAttribute("class"), "autogen-op risky");
    assert.equal(await ops.nth(0).getAttribute("class"), "autogen-op", "a new table risks nothing");
    assert.match(await upgrade.textContent(), /batch_op\.drop_column\('email'\)/);
    assert.match(await downgrade.textContent(), /sa\.Column\('email'/);
    assert.deepEqual(revisionFiles().length, 1, "nothing written yet");
    await card.scrollIntoViewIfNeeded();
    await shot("review");
  });

  await step("leave the dropped column out: the preview follows", async () => {
    await card.locator('[data-testid="autogen-keep-7"]').uncheck();
    await page.waitForFunction(() => !document.querySelector('[data-testid="autogen-preview-upgrade"]')?.textContent?.includes("drop_column('email')"));
    assert.doesNotMatch(await downgrade.textContent(), /sa\.Column\('email'/);
    assert.match(await upgrade.textContent(), /op\.create_table\('posts'/);
    await shot("unchecked");
  });

  await step("write: alembic writes the file with the seven kept; the graph selects it", async () => {
    await card.locator('[data-testid="autogen-write"]').click();
    await page.waitForSelector('[data-screen="graph"]');
    const files = revisionFiles();
    assert.equal(files.length, 2, files.join(", "));
    const written = files.find((f) => f.endsWith("_change.py"));
    assert.ok(written, files.join(", "));
    const text = readFileSync(join(versions, written), "utf8");
    assert.doesNotMatch(text, /drop_column\('email'\)/);
    assert.match(text, /create_table\('posts'/);
    const id = written.split("_")[0];
    await page.locator(`.row[data-id="${id}"].selected, .row.selected[data-id="${id}"]`).first().waitFor();
    await shot("written");
  });

  await step("production: the name is asked for, and a wrong one reads nothing", async () => {
    await page.click("#tab-authoring");
    await ready();
    await card.locator('[data-testid="connection-picker"]').selectOption("prod");
    const confirm = card.locator('[data-testid="autogen-confirm"]');
    await confirm.waitFor();
    assert.match(await card.locator('[data-testid="autogen-confirm-note"]').textContent(), /production database: autogenerate reads its schema/);
    await card.locator('[data-testid="autogen-compare"]').click();
    await card.locator('[data-testid="autogen-error"]').filter({ hasText: "is a production database: type its name" }).waitFor();
    await confirm.fill(env("E2E_PROD_DB"));
    await card.locator('[data-testid="autogen-compare"]').click();
    // prod is still at the first revision: alembic says so, with what to do.
    await card.locator('[data-testid="autogen-error"]').filter({ hasText: "Target database is not up to date." }).waitFor();
    assert.match(await card.locator('[data-testid="autogen-hint"]').textContent(), /upgrade it first/);
    await shot("production");
  });

  const native = process.env.E2E_NATIVE_PROJECT;
  await step("native project: the revision that turns the heads' schema into the database's, proven, shown whole", async () => {
    await page.click("#tab-workspace");
    await page.fill("#project-path", native);
    await page.click('[data-testid="open-path"]');
    await page.getByText("No problems").waitFor();
    await page.click("#tab-authoring");
    await ready();
    assert.match(await card.locator('[data-testid="autogen-intro"]').textContent(), /proven on the scratch database first/);
    await card.locator('[data-testid="autogen-message"]').fill("by hand");
    await card.locator('[data-testid="autogen-compare"]').click();
    await ops.first().waitFor();
    assert.equal(await ops.count(), 2);
    assert.match(await ops.nth(0).textContent(), /create table posts \(id INTEGER, title VARCHAR\(100\)\)/);
    assert.match(await ops.nth(1).textContent(), /add column users\.age INTEGER/);
    assert.ok(await card.locator('[data-testid="autogen-keep-0"]').isDisabled(), "a native revision is written whole");
    assert.match(await card.locator('[data-testid="autogen-summary"]').textContent(), /Proven on sqlite:/);
    assert.match(await upgrade.textContent(), /CREATE TABLE "posts"/);
    assert.match(await downgrade.textContent(), /DROP TABLE "posts"/);
    await card.scrollIntoViewIfNeeded();
    await shot("native-review");
    await card.locator('[data-testid="autogen-write"]').click();
    await page.waitForSelector('[data-screen="graph"]');
    const files = readdirSync(join(native, "versions")).filter((f) => f.endsWith(".sql"));
    assert.equal(files.length, 2, files.join(", "));
    const written = files.find((f) => f.endsWith("_by_hand.sql"));
    assert.ok(written, files.join(", "));
    const text = readFileSync(join(native, "versions", written), "utf8");
    assert.match(text, /-- migrate:up\nCREATE TABLE "posts" \([\s\S]*\);\nALTER TABLE "users" ADD COLUMN "age" INTEGER NULL;/);
    assert.match(text, /-- migrate:down\n[\s\S]*DROP TABLE "posts";/);
    await page.locator(`.row.selected[data-id="${written.split("_")[0]}"]`).waitFor();
  });

  assert.deepEqual(consoleErrors, [], "no console errors");
} finally {
  await browser.close();
  child.kill();
}
console.log("all autogenerate UI steps passed");
