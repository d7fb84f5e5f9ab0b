// End-to-end: upgrade/downgrade runs, stamps and the status board in Debian's Chromium
// (playwright-core) against `retort serve`, with databases and saved connections prepared by
// tests/ui_operations.rs.
//
// Environment: RETORT_BIN, E2E_HOME (the RETORT_HOME the connections were saved in), E2E_DEMO
// (a copy of demo/ with `prod` and `stage` bound), E2E_FAILING (a copy with a failing
// revision and `maria` bound), E2E_PG_DB, E2E_MY_DB, E2E_STAGE_DB (stage's SQLite file),
// E2E_SCREENSHOTS.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { envFrom, launchChromium, onStepFailure, pageReport, screenshotsDir, screenshotter, startServer, step, watchConsole } from "./harness.mjs";

const env = envFrom("tests/ui_operations.rs");
const shots = screenshotsDir(env);

const { url, child } = await startServer(env("RETORT_BIN"), env("E2E_DEMO"), env("E2E_HOME"));
const browser = await launchChromium();
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page, consoleErrors);
  page.setDefaultTimeout(30000);
  const shot = screenshotter(page, shots, "ops-");
  onStepFailure(pageReport(page, consoleErrors, shot));
  const tab = (name) => page.click(`#tab-${name}`);
  const openWorkspace = async (path) => {
    await tab("workspace");
    await page.fill("#project-path", path);
    await page.click('[data-testid="open-path"]');
    await page.getByText("No problems").waitFor();
  };
  const run = page.locator('[data-testid="run-dialog"]');

  await step("the demo opens on its graph", async () => {
    await page.goto(url);
    await page.waitForSelector('.row[data-id="8b0d3e6f1c58"]');
    await page.waitForSelector('.legend [data-chip="prod"]');
  });

  await step("status board before: prod empty, stage up to date", async () => {
    await tab("status");
    const card = (n) => page.locator(`.board-card[data-connection="${n}"]`);
    await card("prod").waitFor();
    assert.equal(await card("prod").getAttribute("data-standing"), "empty");
    assert.equal(await card("stage").getAttribute("data-standing"), "upToDate");
    assert.equal(await card("stage").locator('[data-testid="standing"]').textContent(), "up to date");
  });

  await step("(a) upgrade prod from a graph node: the plan from the real database", async () => {
    await tab("graph");
    await page.selectOption('[data-testid="overlay"]', "prod");
    await page.locator('.row[data-id="8b0d3e6f1c58"]').click();
    await page.locator('[data-testid="detail"] [data-testid="node-upgrade"]').click();
    await run.waitFor();
    const steps = run.locator('[data-testid="plan-steps"] > li');
    await steps.first().waitFor();
    assert.equal(await steps.count(), 8, "8 steps from an empty database to 8b0d3e6f1c58");
    assert.equal(await run.locator('[data-testid="plan-current"]').textContent(), "base (nothing applied)");
    assert.equal(await run.locator('[data-testid="plan-result"]').textContent(), "8b0d3e6f1c58");
    assert.match(await run.locator('[data-testid="run-env"]').textContent(), /production/);
    // The environment's colour is the dialog's border.
    const border = await run.evaluate((el) => getComputedStyle(el).borderTopColor);
    assert.notEqual(border, "rgb(9, 105, 218)", "the production colour, not the accent");
    // Each step's SQL, and the whole script.
    await steps.first().locator("summary").click();
    assert.match(await steps.first().locator("pre.sql").textContent(), /CREATE TABLE authors/);
    await run.locator('[data-testid="show-offline-sql"]').click();
    await run.locator('[data-testid="offline-sql"] pre').waitFor();
    assert.match(await run.locator('[data-testid="offline-sql"] pre').textContent(), /CREATE TABLE publishers/);
    await shot("1-plan");
  });

  await step("(a) the safety gate: backup pre-checked, Run disabled until the database name is typed", async () => {
    const backup = run.locator('[data-testid="run-backup"]');
    assert.equal(await backup.isChecked(), true, "backup pre-checked for production");
    const start = run.locator('[data-testid="run-start"]');
    const confirm = run.locator('[data-testid="run-confirm"]');
    assert.equal(await start.isDisabled(), true, "disabled before typing");
    await confirm.fill("not-the-name");
    assert.equal(await start.isDisabled(), true, "disabled with a wrong name");
    await confirm.fill(env("E2E_PG_DB"));
    assert.equal(await start.isEnabled(), true, "enabled with the name");
    await start.scrollIntoViewIfNeeded();
    await shot("2-confirm");
  });

  await step("(a) the run: backup progress, steps with durations, success", async () => {
    await run.locator('[data-testid="run-start"]').click();
    const outcome = run.locator('[data-testid="run-outcome"]');
    await outcome.waitFor({ timeout: 120000 });
    assert.equal(await outcome.getAttribute("data-outcome"), "completed", await outcome.textContent());
    const log = await run.locator('[data-testid="run-log"]').textContent();
    assert.match(log, /backup: Backing up with pg_dump/, "live backup progress reached the page");
    assert.match(log, /backup: Verifying the backup/);
    assert.match(log, /✓ upgrade .*-> 1a0c5e2b7d01/);
    assert.match(await run.locator('[data-testid="run-backup-summary"]').textContent(), /Backup #\d+ \(pg_dump.*verified: /);
    const done = run.locator('.op-step[data-state="done"]');
    assert.equal(await done.count(), 8);
    for (const d of await done.locator(".dur").allTextContents()) assert.match(d, /\d+(\.\d+)? m?s/);
    assert.match(await outcome.textContent(), /now at 8b0d3e6f1c58/);
    await run.locator('[data-testid="run-result"]').scrollIntoViewIfNeeded();
    await shot("3-upgrade-done");
    await run.locator('[data-testid="run-close"]').click();
    await run.waitFor({ state: "detached" });
  });

  await step("(d) status board after the run: prod behind by 2, stage up to date", async () => {
    await tab("status");
    await page.click('[data-testid="status-refresh"]');
    const prod = page.locator('.board-card[data-connection="prod"]');
    await page.waitForSelector('.board-card[data-connection="prod"][data-standing="behind"]');
    assert.equal(await prod.locator('[data-testid="standing"]').textContent(), "behind by 2");
    assert.equal(await page.locator('.board-card[data-connection="stage"]').getAttribute("data-standing"), "upToDate");
    await shot("4-status");
  });

  await step("(b) a failing revision on MariaDB, backup first: the failure report", async () => {
    await openWorkspace(env("E2E_FAILING"));
    await tab("graph");
    await page.waitForSelector('.legend [data-chip="maria"]');
    await page.selectOption('[data-testid="overlay"]', "maria");
    await page.locator('.row[data-id="f00dbad00001"]').click({ button: "right" });
    await page.locator('[data-testid="menu-node-upgrade"]').click();
    await run.waitFor();
    const steps = run.locator('[data-testid="plan-steps"] > li');
    await steps.first().waitFor();
    assert.equal(await steps.count(), 2);
    assert.ok(await run.locator('[data-testid="plan-warnings"]').count(), "MariaDB's DDL commits as it goes: a warning");
    const backup = run.locator('[data-testid="run-backup"]');
    assert.equal(await backup.isChecked(), false, "not production: no backup by default");
    await backup.check();
    assert.equal(await run.locator('[data-testid="run-confirm"]').count(), 0, "no typed confirmation outside production");
    await run.locator('[data-testid="run-start"]').click();
    const outcome = run.locator('[data-testid="run-outcome"]');
    await outcome.waitFor({ timeout: 120000 });
    assert.equal(await outcome.getAttribute("data-outcome"), "failed");
    assert.match(await run.locator('[data-testid="run-backup-summary"]').textContent(), /Backup #\d+ \((mariadb-dump|mysqldump)/);
    assert.equal(await run.locator('[data-testid="result-completed"] li').count(), 1);
    assert.match(await run.locator('[data-testid="result-completed"]').textContent(), /4d1f6a92c0b7/);
    assert.match(await run.locator('[data-testid="failure-statement"]').textContent(), /no_such_table/);
    assert.match(await run.locator('[data-testid="failure-error"]').textContent(), /no_such_table/);
    assert.match(await run.locator('[data-testid="failure-committed"]').textContent(), /CREATE TABLE coupons/);
    assert.equal(await run.locator('.op-step[data-state="failed"]').count(), 1);
    await run.locator('[data-testid="result-failure"]').scrollIntoViewIfNeeded();
    await shot("5-failure");
  });

  await step("(b) one-click recovery: restore the backup taken before the run", async () => {
    await run.locator('[data-testid="recover-restore"]').click();
    const go = run.locator('[data-testid="restore-start"]');
    assert.equal(await go.isDisabled(), true, "the restore needs the database name typed");
    await run.locator('[data-testid="restore-confirm"]').fill(env("E2E_MY_DB"));
    await go.click();
    const result = run.locator('[data-testid="restore-result"]');
    await result.waitFor({ timeout: 120000 });
    const text = await result.textContent();
    assert.match(text, /version table is at 3c44d0e8b915/);
    assert.match(text, /coupons/);
    assert.match(text, /reviews/);
    await result.scrollIntoViewIfNeeded();
    await shot("6-restored");
    await run.locator('[data-testid="run-close"]').click();
  });

  await step("(c) stamp with a schema mismatch on SQLite: diff first, Stamp only once accepted", async () => {
    await openWorkspace(env("E2E_DEMO"));
    await tab("graph");
    await page.locator('.row[data-id="8b0d3e6f1c58"]').click();
    await page.locator('[data-testid="detail"] [data-testid="node-stamp"]').click();
    const dlg = page.locator('[data-testid="stamp-dialog"]');
    await dlg.waitFor();
    await dlg.locator('[data-testid="stamp-connection"] option[value="project"]').waitFor({ state: "attached" });
    await dlg.locator('[data-testid="stamp-connection"]').selectOption("project");
    assert.equal(await dlg.locator('[data-testid="stamp-targets"]').inputValue(), "8b0d3e6f1c58");
    assert.match(await dlg.textContent(), /deletes every row of the version table first/);
    assert.equal(await dlg.locator('[data-testid="stamp-start"]').count(), 0, "no Stamp button before the verification");
    await dlg.locator('[data-testid="stamp-verify"]').click();
    const verdict = dlg.locator('[data-testid="stamp-verdict"]');
    await verdict.waitFor({ timeout: 60000 });
    assert.equal(await verdict.getAttribute("data-matches"), "false");
    const diff = await dlg.locator('[data-testid="stamp-diff"]').textContent();
    assert.match(diff, /reviews/);
    assert.match(diff, /publishers/);
    const stamp = dlg.locator('[data-testid="stamp-start"]');
    assert.equal(await stamp.isDisabled(), true, "disabled until the mismatch is accepted");
    await shot("7-stamp-mismatch");
    await dlg.locator('[data-testid="stamp-accept"]').check();
    assert.equal(await stamp.isEnabled(), true);
    await stamp.click();
    const outcome = dlg.locator('[data-testid="stamp-outcome"]');
    await outcome.waitFor({ timeout: 60000 });
    assert.equal(await outcome.getAttribute("data-outcome"), "completed", await outcome.textContent());
    assert.match(await outcome.textContent(), /8b0d3e6f1c58/);
    await shot("8-stamped");
    await dlg.locator('[data-testid="stamp-close"]').click();
    await page.waitForSelector('.row[data-id="8b0d3e6f1c58"] [data-chip="project"]');
  });

  await step("(e) another process holds the lock: the run waits and says so, leaving asks first, Cancel stops it", async () => {
    // util-linux flock takes the same advisory lock Retort takes on a SQLite file.
    // Its own process group: `sleep` inherits the locked descriptor, so both must go.
    const holder = spawn("flock", [env("E2E_STAGE_DB"), "sleep", "60"], { stdio: "ignore", detached: true });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await tab("graph");
      await page.click('[data-testid="open-run"]');
      await run.waitFor();
      // The dialog plans for its first connection before it is ours to change.
      await run.locator('[data-testid="plan-steps"], [data-testid="op-error"]').first().waitFor();
      await run.locator('[data-testid="run-connection"] option[value="stage"]').waitFor({ state: "attached" });
      await run.locator('[data-testid="run-connection"]').selectOption("stage");
      await run.locator('[data-testid="run-command"]').selectOption("downgrade");
      await run.locator('[data-testid="run-target"]').fill("-1");
      await run.locator('[data-testid="run-plan"]').click();
      await run.locator('[data-testid="plan-steps"] > li').first().waitFor();
      await run.locator('[data-testid="run-start"]').click();
      const waiting = run.locator('[data-testid="lock-waiting"]');
      await waiting.waitFor({ state: "visible", timeout: 20000 });
      assert.match(await waiting.textContent(), /Waiting for the migration lock, held by/);
      // Leaving the page now would ask first.
      const asks = await page.evaluate(() => {
        const e = new Event("beforeunload", { cancelable: true });
        window.dispatchEvent(e);
        return e.defaultPrevented;
      });
      assert.equal(asks, true, "beforeunload asks while a run is under way");
      await shot("9-lock-waiting");
      await run.locator('[data-testid="run-cancel"]').click();
    } finally {
      process.kill(-holder.pid, "SIGKILL");
    }
    const outcome = run.locator('[data-testid="run-outcome"]');
    await outcome.waitFor({ timeout: 40000 });
    assert.equal(await outcome.getAttribute("data-outcome"), "cancelled", await outcome.textContent());
    const asksAfter = await page.evaluate(() => {
      const e = new Event("beforeunload", { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    });
    assert.equal(asksAfter, false, "nothing under way: leaving does not ask");
    await run.locator('[data-testid="run-close"]').click();
  });

  assert.deepEqual(consoleErrors, [], "no console errors");
} finally {
  await browser.close();
  child.kill();
}
console.log("all operation steps passed");
