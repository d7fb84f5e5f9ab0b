// End-to-end: the management screens (authoring, checks, backups, journal) in Debian's
// Chromium (playwright-core) against `retort serve`, with saved connections to real SQLite,
// PostgreSQL and MariaDB databases prepared by tests/ui_manage.rs.
//
// Environment: RETORT_BIN, RETORT_HOME (the store the CLI saved the connections in), E2E_DEMO
// (a copy of demo/ with lite, pg and maria bound), E2E_PG_DB, E2E_MY_DB, E2E_SCREENSHOTS.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import { envFrom, launchChromium, onStepFailure, pageReport, screenshotsDir, screenshotter, startServer, step, watchConsole } from "./harness.mjs";

const env = envFrom("tests/ui_manage.rs");
const shots = screenshotsDir(env);
const home = env("RETORT_HOME");
const demo = env("E2E_DEMO");

/** The CLI, in the same store as the server. */
function retort(...args) {
  const r = spawnSync(env("RETORT_BIN"), ["-c", demo, ...args], { env: { ...process.env, RETORT_HOME: home }, encoding: "utf8" });
  assert.equal(r.status, 0, `retort ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** SQL straight to a server database, as its superuser. */
function sql(server, sqlText) {
  const r =
    server === "pg"
      ? spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-At", "-d", env("E2E_PG_DB"), "-c", sqlText], { encoding: "utf8" })
      : spawnSync("mariadb", ["-h", "127.0.0.1", "-uroot", "-N", "-B", `--database=${env("E2E_MY_DB")}`, "-e", sqlText], { encoding: "utf8" });
  assert.equal(r.status, 0, `${sqlText}: ${r.stderr}`);
  return r.stdout.trim();
}

const currentOf = (name) =>
  retort("--connection", name, "current")
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter(Boolean)
    .sort();

const { url, child } = await startServer(env("RETORT_BIN"), demo, home);
const browser = await launchChromium();
const consoleErrors = [];
const dialogs = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page, consoleErrors);
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  page.setDefaultTimeout(20000);
  const shot = screenshotter(page, shots, "manage-");
  onStepFailure(pageReport(page, consoleErrors, shot));
  const tab = (name) => page.click(`#tab-${name}`);

  await step("the demo opens on its graph with two heads", async () => {
    await page.goto(url);
    await page.waitForSelector('.row[data-id="a0e7d5c3b861"]');
    assert.equal(await page.locator(".row .badge.head").count(), 2);
  });

  // ----- (a) merge ----------------------------------------------------------------------
  let mergeId;
  await step("merge: Ctrl+click both heads on the graph, the explanation is shown", async () => {
    await page.locator('.row[data-id="8b0d3e6f1c58"]').click({ modifiers: ["Control"] });
    await page.locator('.row[data-id="a0e7d5c3b861"]').click({ modifiers: ["Control"] });
    assert.equal(await page.locator(".row.picked").count(), 2);
    await page.getByRole("button", { name: "Merge 2 picked heads…" }).click();
    const x = page.locator('[data-testid="merge-explanation"]');
    await x.locator('[data-testid="merge-order"]').waitFor();
    // Both heads checked.
    const checked = await page.locator('[data-testid="merge-heads"] input:checked').evaluateAll((els) => els.map((e) => e.value).sort());
    assert.deepEqual(checked, ["8b0d3e6f1c58", "a0e7d5c3b861"]);
    // The audit branch is a root of its own: the two heads share no history.
    const ancestor = await x.locator('[data-testid="merge-ancestor"]').textContent();
    assert.match(ancestor, /share no history/);
    assert.equal(await x.locator(".branch-col").count(), 2);
    const order = await x.locator('[data-testid="merge-order"] li').allTextContents();
    assert.ok(order.length >= 11, `order: ${order}`);
    assert.match(order[order.length - 1], /\(the merge\)/);
    assert.ok(order.some((t) => t.startsWith("a0e7d5c3b861")) && order.some((t) => t.startsWith("8b0d3e6f1c58")));
    await x.locator('[data-testid="merge-shared"]').waitFor();
    await shot("merge-explained");
  });

  await step("merge: write the file; the graph shows the merge, selected, as the only head", async () => {
    await page.fill('[data-testid="merge-message"]', "merge audit into main");
    await page.click('[data-testid="merge-write"]');
    const sel = page.locator(".row.selected");
    await sel.locator(".badge.merge, .badge.head").first().waitFor();
    mergeId = await sel.getAttribute("data-id");
    assert.ok(!["8b0d3e6f1c58", "a0e7d5c3b861"].includes(mergeId), `selected: ${mergeId}`);
    await page.locator('[data-testid="detail"] h2', { hasText: mergeId }).waitFor();
    assert.match(await page.locator('[data-testid="detail"]').textContent(), /mergepoint/);
    assert.equal(await page.locator(".row .badge.head").count(), 1);
    const files = spawnSync("ls", [join(demo, "versions")], { encoding: "utf8" }).stdout;
    const file = files.split("\n").find((f) => f.startsWith(mergeId));
    assert.ok(file, `the merge file is in versions/: ${files}`);
    const text = readFileSync(join(demo, "versions", file), "utf8");
    assert.match(text, /8b0d3e6f1c58/);
    assert.match(text, /a0e7d5c3b861/);
    await shot("merge-written");
  });

  await step("merge: after a reload the graph has one head, the merge", async () => {
    await page.reload();
    await page.waitForSelector(`.row[data-id="${mergeId}"]`);
    assert.equal(await page.locator(".row .badge.head").count(), 1);
    assert.equal(await page.locator(`.row[data-id="${mergeId}"] .badge.head`).count(), 1);
    assert.equal(await page.locator(`.row[data-id="${mergeId}"] .badge.merge`).count(), 1);
    assert.match(retort("heads"), new RegExp(`^${mergeId} `));
    // The merge button only shows with two heads or more.
    assert.equal(await page.locator('[data-testid="open-merge"]').count(), 0);
  });

  // ----- (c) new revision ---------------------------------------------------------------
  let revisionPath;
  await step("new revision: naming hint live, the file is written and shown", async () => {
    await page.click('[data-testid="open-new-revision"]');
    await page.locator('[data-testid="revision-form"]').waitFor();
    assert.equal(await page.locator('[data-testid="revision-parent"]').inputValue(), "head");
    await page.fill('[data-testid="revision-message"]', "Add Rating Index!!");
    const hint = page.locator('[data-testid="naming-hint"]');
    await hint.locator('[data-testid="preview-path"]').waitFor();
    const previewPath = await hint.locator('[data-testid="preview-path"]').textContent();
    assert.match(previewPath, /versions\/[0-9a-f]{12}_/);
    const advice = await hint.textContent();
    // The project's naming advice, or the all-clear: either way the hint is live.
    assert.ok(/naming|✓/i.test(advice), advice);
    await page.fill('[data-testid="revision-message"]', "add rating index");
    await hint.locator('[data-testid="preview-path"]', { hasText: "add_rating_index" }).waitFor();
    await page.fill('[data-testid="revision-label"]', "ratings");
    await page.click('[data-testid="revision-write"]');
    const written = page.locator('[data-testid="revision-written"]');
    await written.waitFor();
    revisionPath = await written.locator('[data-testid="revision-path"]').textContent();
    assert.match(revisionPath, /add_rating_index/);
    assert.match(await written.locator(".code").textContent(), /add rating index/);
    assert.ok(existsSync(revisionPath.startsWith("/") ? revisionPath : join(demo, revisionPath)), revisionPath);
    assert.match(await written.textContent(), new RegExp(`parent ${mergeId}`));
    await shot("revision");
  });

  // ----- (e) checks ---------------------------------------------------------------------
  await step("checks: findings by level with file:line, a round trip on SQLite passes", async () => {
    await tab("checks");
    const findings = page.locator('[data-testid="findings"]');
    await findings.locator(".finding-group, [data-testid=no-findings]").first().waitFor();
    const text = await findings.textContent();
    assert.match(text, /Heads: /);
    // The new revision has empty migrate sections: flagged, with its file.
    const groups = await findings.locator(".finding-group").count();
    if (groups) assert.match(text, /add_rating_index\.sql(:\d+)?/);
    await page.click('[data-testid="round-trip"]');
    const result = page.locator('[data-testid="round-trip-result"]');
    await result.waitFor({ timeout: 60000 });
    assert.equal(await result.getAttribute("data-outcome"), "completed", await result.textContent());
    assert.match(await result.textContent(), /Round trip passed: 12 of 12/);
    // Progress comes as server-sent events, which may arrive after the command's answer.
    const lines = page.locator('[data-testid="round-trip-log"] [data-passed]');
    await lines.nth(11).waitFor({ timeout: 60000 });
    assert.equal(await lines.count(), 12, "a progress line for every revision");
    await shot("checks");
  });

  // ----- (b) backups ----------------------------------------------------------------------
  const backupRestore = async (name, server) => {
    await tab("backups");
    await page.selectOption('[data-testid="backups-connection"] select', name);
    const listed = (n) =>
      page.waitForFunction(
        ([c, n]) => {
          const rows = [...document.querySelectorAll('[data-testid="backups"] tbody tr')];
          const empty = document.querySelector('[data-testid="no-backups"]');
          return (n === null ? rows.length > 0 || empty : rows.length === n) && rows.every((r) => r.dataset.connection === c);
        },
        [name, n],
      );
    await listed(null);
    const before = await page.locator('[data-testid="backups"] tbody tr').count();
    const revisionsBefore = currentOf(name);
    await page.click('[data-testid="create-backup"]');
    const log = page.locator('.backups [data-testid="progress-log"]');
    await log.locator('[data-event="finished"]').waitFor();
    await log.locator('[data-event="started"]').waitFor();
    await page.locator('.backups [data-testid="progress-line"]', { hasText: /backup #\d+ done/ }).waitFor();
    await listed(before + 1);
    const id = (await page.locator('[data-testid="backups"] tbody tr').first().getAttribute("data-backup")) ?? "";
    const row = page.locator(`[data-testid="backups"] tr[data-backup="${id}"]`);
    assert.match(id, /^\d+$/);
    assert.match(await row.textContent(), new RegExp(revisionsBefore[0]));
    if (name === "pg") await shot("backups-pg");

    // Change the database: downgrade through the CLI, and (servers) a row that was not there.
    // (MariaDB cannot run the demo's downgrade of publishers, a foreign key in the way: stamp.)
    if (server === "my") retort("--connection", name, "stamp", "2b7e91c4a3f2");
    else retort("--connection", name, "downgrade", "2b7e91c4a3f2");
    const changed = currentOf(name);
    assert.ok(changed.includes("2b7e91c4a3f2"), `downgraded: ${changed}`);
    assert.notDeepEqual(changed, revisionsBefore);
    if (server) sql(server, "INSERT INTO authors (id, name) VALUES (1, 'Ursula')");

    // Restore, with the target's name typed.
    await row.locator('[data-action="restore"]').click();
    const form = page.locator(`[data-testid="restore-form"][data-for="${id}"]`);
    await form.waitFor();
    const expected = await form.locator('[data-testid="confirm-name"]').textContent();
    assert.equal(expected, server === "pg" ? env("E2E_PG_DB") : server === "my" ? env("E2E_MY_DB") : "lite.db");
    await form.locator('[data-testid="confirm-input"]').fill("not-the-name");
    assert.ok(await form.locator('[data-testid="restore-go"]').isDisabled(), "a wrong name keeps Restore disabled");
    await form.locator('[data-testid="confirm-input"]').fill(expected);
    await form.locator('[data-testid="restore-go"]').click();
    const result = form.locator('[data-testid="restore-result"]');
    await result.waitFor({ timeout: 60000 });
    assert.match(await result.textContent(), /Restored/, await result.textContent());
    await form.locator('[data-testid="progress-log"] [data-event="restoring"]').waitFor();
    if (name === "pg") await shot("restore");
    assert.deepEqual(currentOf(name), revisionsBefore, "the version rows are back");
    if (server) assert.equal(sql(server, "SELECT count(*) FROM authors"), "0", "the row added after the backup is gone");
    return id;
  };

  const ids = {};
  await step("backups: SQLite — create with progress, change, restore with the typed name", async () => {
    ids.lite = await backupRestore("lite", null);
  });
  await step("backups: PostgreSQL — create with progress, change, restore with the typed name", async () => {
    ids.pg = await backupRestore("pg", "pg");
  });
  await step("backups: MariaDB — create with progress, change, restore with the typed name", async () => {
    ids.maria = await backupRestore("maria", "my");
  });

  await step("backups: verify, reveal (the path), delete with confirmation", async () => {
    await page.selectOption('[data-testid="backups-connection"] select', "lite");
    await page.locator(`[data-backup="${ids.lite}"]`).waitFor();
    await page.locator(`[data-backup="${ids.lite}"] [data-action="verify"]`).click();
    const v = page.locator('[data-testid="verify-result"]');
    await v.filter({ hasText: /verified/ }).waitFor();
    assert.match(await v.textContent(), /integrity_check|sha|ok/i);
    await page.locator(`[data-backup="${ids.lite}"] [data-action="reveal"]`).click();
    const path = await page.locator('[data-testid="backup-path"]').textContent();
    assert.ok(existsSync(path), `the backup's file: ${path}`);
    // A second backup, deleted.
    await page.click('[data-testid="create-backup"]');
    await page.locator('.backups [data-testid="progress-line"]', { hasText: /backup #\d+ done/ }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="backups"] tbody tr').length === 2);
    const extra = await page.locator('[data-testid="backups"] tbody tr').first().getAttribute("data-backup");
    assert.notEqual(extra, ids.lite);
    const dialogCount = dialogs.length;
    await page.locator(`[data-backup="${extra}"] [data-action="delete"]`).click();
    await page.locator(`[data-backup="${extra}"]`).waitFor({ state: "detached" });
    assert.equal(dialogs.length, dialogCount + 1, "deleting asks first");
    assert.match(dialogs.at(-1), new RegExp(`Delete backup #${extra}`));
    assert.equal(await page.locator('[data-testid="backups"] tbody tr').count(), 1);
  });

  // ----- (d) journal ----------------------------------------------------------------------
  await step("journal: every operation, filters by kind, a run's details, the link to its backup", async () => {
    await tab("journal");
    const rows = page.locator('[data-testid="journal"] tbody tr');
    await rows.first().waitFor();
    const kinds = new Set(await rows.evaluateAll((els) => els.map((e) => e.dataset.kind)));
    for (const k of ["merge", "revision", "backup", "restore", "upgrade", "downgrade"]) assert.ok(kinds.has(k), `journal has ${k}: ${[...kinds]}`);

    await page.selectOption('[data-testid="journal-kind"]', "upgrade");
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="journal"] tbody tr')].every((r) => r.dataset.kind === "upgrade"));
    await rows.first().click();
    const detail = page.locator('[data-testid="journal-detail"]');
    const steps = detail.locator('[data-testid="journal-steps"] tbody tr');
    await steps.first().waitFor();
    assert.match(await steps.first().textContent(), /[0-9a-f]{12}…/, "a checksum");
    assert.match(await steps.first().textContent(), /\d+ ms|\d\.\d+ s/, "a duration");

    await page.selectOption('[data-testid="journal-kind"]', "restore");
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('[data-testid="journal"] tbody tr')];
      return r.length === 3 && r.every((x) => x.dataset.kind === "restore");
    });
    await page.selectOption('[data-testid="journal-connection"]', "pg");
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="journal"] tbody tr').length === 1);
    await rows.first().click();
    const link = detail.locator('[data-testid="journal-backup-link"]');
    await link.waitFor();
    assert.equal(await link.textContent(), `backup #${ids.pg}`);
    await shot("journal");
    await link.click();
    await page.locator(`.backups tr.focused[data-backup="${ids.pg}"]`).waitFor();
    await shot("journal-to-backup");
  });

  assert.deepEqual(consoleErrors, [], "no console errors");
} finally {
  await browser.close();
  child.kill();
}
console.log("all management UI steps passed");
