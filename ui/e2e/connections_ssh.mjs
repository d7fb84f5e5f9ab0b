// End-to-end: the connection form's SSH route and password command in Debian's Chromium
// (playwright-core) against `retort serve`, prepared by tests/ui_manage.rs
// (ssh_route_and_password_command_in_the_connection_form).
//
// Environment: RETORT_BIN, RETORT_HOME, E2E_DEMO, E2E_SCREENSHOTS, RETORT_SSH_CONFIG (the test's
// own ssh_config and known_hosts). With a test sshd in front of PostgreSQL also E2E_PG_DB,
// E2E_SSH_PORT, E2E_SSH_USER, E2E_SSH_KEY, E2E_SSH_FINGERPRINT and E2E_KNOWN_HOSTS; without
// them the host key steps are left out.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { envFrom, launchChromium, onStepFailure, pageReport, screenshotsDir, screenshotter, startServer, step, watchConsole } from "./harness.mjs";

const env = envFrom("tests/ui_manage.rs");
const shots = screenshotsDir(env);
env("RETORT_SSH_CONFIG"); // never the user's ~/.ssh
const sshd = process.env.E2E_SSH_PORT ? { port: process.env.E2E_SSH_PORT, user: env("E2E_SSH_USER"), key: env("E2E_SSH_KEY"), fingerprint: env("E2E_SSH_FINGERPRINT"), knownHosts: env("E2E_KNOWN_HOSTS"), db: env("E2E_PG_DB") } : null;

const { url, child } = await startServer(env("RETORT_BIN"), env("E2E_DEMO"), env("RETORT_HOME"));
const browser = await launchChromium();
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 960 }, colorScheme: "light" });
  const page = await context.newPage();
  watchConsole(page, consoleErrors);
  page.on("dialog", (d) => d.accept());
  page.setDefaultTimeout(60000);
  const shot = screenshotter(page, shots, "ssh-");
  onStepFailure(pageReport(page, consoleErrors, shot));
  const form = page.locator('[data-testid="connection-form"]');
  const card = page.locator('[data-testid="test-result"]');
  const verdict = card.locator('[data-testid="test-verdict"]');
  const field = (name) => form.locator(`[name="${name}"]`);
  const visible = (name) => field(name).isVisible();

  /** Fills the network part of the form for the PostgreSQL connection `name`. */
  const fillPostgres = async (name, database) => {
    await field("name").fill(name);
    await field("driver").selectOption("postgresql");
    await field("host").fill("127.0.0.1");
    await field("port").fill("5432");
    await field("database").fill(database);
    await field("user").fill("postgres");
    if (await field("bind").count()) await field("bind").uncheck();
  };

  await step("the connections screen opens", async () => {
    await page.goto(url);
    await page.click("#tab-connections");
    await page.waitForSelector('[data-testid="keychain-status"]');
  });

  await step("form: the SSH section opens on its checkbox, and is not there for SQLite", async () => {
    await page.click('[data-testid="add-connection"]');
    await form.waitFor();
    assert.ok(await form.locator('[data-testid="ssh-section"]').isVisible(), "SSH section for PostgreSQL");
    assert.ok(!(await visible("sshBastion")), "the SSH fields wait for the checkbox");
    await form.locator('[data-testid="ssh-toggle"]').check();
    for (const f of ["sshBastion", "sshJumps", "sshIdentity"]) assert.ok(await visible(f), `${f} shown`);
    await field("driver").selectOption("sqlite");
    assert.ok(!(await form.locator('[data-testid="ssh-section"]').isVisible()), "no SSH for SQLite");
    await field("driver").selectOption("mysql");
    assert.ok(await visible("sshBastion"), "SSH for MySQL");
  });

  await step("form: \"from a command\" shows the command field and hides the password field", async () => {
    assert.ok(await visible("password"), "the password field, at first");
    assert.ok(!(await visible("passwordCommand")), "no command field, at first");
    await field("passwordChoice").selectOption("command");
    assert.ok(await visible("passwordCommand"), "the command field");
    assert.ok(await visible("passwordLifetime"), "the lifetime field");
    assert.ok(!(await visible("password")), "no password field with a command");
    assert.equal(await field("passwordCommand").getAttribute("placeholder"), "vault kv get -field=password secret/db");
    await field("passwordChoice").selectOption("ask");
    assert.ok(await visible("password") && !(await visible("passwordCommand")), "back to the password field");
  });

  await step("form: an empty command is refused in the form, a bad hop by the core, next to the form", async () => {
    await fillPostgres("pg-bastion", "nowhere");
    await field("passwordChoice").selectOption("command");
    await field("sshBastion").fill("me@127.0.0.1:1");
    await form.locator('button[type="submit"]').click();
    const error = form.locator('[data-testid="form-error"]');
    await error.filter({ hasText: "enter the command that prints the password" }).waitFor();
    await field("passwordCommand").fill("printf pw");
    await field("sshBastion").fill("bad host");
    await form.locator('button[type="submit"]').click();
    await error.filter({ hasText: "SSH host 'bad host'" }).waitFor();
    assert.equal(await page.locator('[data-connection="pg-bastion"]').count(), 0, "nothing saved");
    await form.getByRole("button", { name: "Cancel" }).click();
  });

  await step("save: PostgreSQL through the bastion me@127.0.0.1:1 with the password from `printf pw`", async () => {
    await page.click('[data-testid="add-connection"]');
    await fillPostgres("pg-bastion", "nowhere");
    await form.locator('[data-testid="ssh-toggle"]').check();
    await field("sshBastion").fill("me@127.0.0.1:1");
    await field("sshIdentity").fill("/root/.ssh/id_ed25519");
    await field("passwordChoice").selectOption("command");
    await field("passwordCommand").fill("printf pw");
    await field("passwordLifetime").fill("60");
    await shot("form");
    await field("sshIdentity").fill("");
    // "Test SSH only" tries the route as typed, before anything is saved.
    await form.locator('[data-testid="test-ssh"]').click();
    const check = form.locator('[data-testid="ssh-check"]');
    await check.locator('[data-testid="test-verdict"]', { hasText: "pg-bastion: SSH failed" }).waitFor();
    assert.equal(await check.getAttribute("data-ok"), "false");
    assert.match(await check.textContent(), /me@127\.0\.0\.1:1: /);
    assert.match(await check.locator('[data-testid="test-advice"]').textContent(), /Check the SSH port/);
    assert.equal(await page.locator('[data-connection="pg-bastion"]').count(), 0, "testing saves nothing");
    await form.locator('button[type="submit"]').click();
    const row = page.locator('[data-connection="pg-bastion"]');
    await row.waitFor();
    assert.equal(await row.locator('[data-testid="ssh-route"]').textContent(), "via SSH me@127.0.0.1:1");
    assert.match(await row.textContent(), /from a command/);
  });

  await step("test: nothing listens on port 1, the card says so with advice", async () => {
    // Saving tests the connection at once.
    await verdict.filter({ hasText: "pg-bastion: SSH failed" }).waitFor();
    const failure = card.locator('[data-testid="test-failure"]');
    assert.equal(await failure.getAttribute("data-kind"), "ssh");
    assert.match(await failure.textContent(), /me@127\.0\.0\.1:1: the connection was refused \(connect to address 127\.0\.0\.1 port 1: Connection refused\)/);
    assert.match(await card.locator('[data-testid="test-advice"]').textContent(), /Check the SSH port/);
    assert.equal(await card.locator('[data-testid="trust-host-key"]').count(), 0, "no host key to trust");
    assert.equal(await card.getAttribute("class"), "card report failed");
    await shot("refused");
    // The Test button gives the same card.
    await page.click('[data-testid="test-pg-bastion"]');
    await verdict.filter({ hasText: "pg-bastion: SSH failed" }).waitFor();
  });

  await step("edit: the bastion and the command are in the form again; a jump host goes first", async () => {
    await page.getByRole("button", { name: "Edit pg-bastion" }).click();
    await form.waitFor();
    assert.ok(await form.locator('[data-testid="ssh-toggle"]').isChecked(), "SSH checked");
    assert.equal(await field("sshBastion").inputValue(), "me@127.0.0.1:1");
    assert.equal(await field("sshJumps").inputValue(), "");
    assert.equal(await field("passwordChoice").inputValue(), "command");
    assert.equal(await field("passwordCommand").inputValue(), "printf pw");
    assert.equal(await field("passwordLifetime").inputValue(), "60");
    assert.ok(!(await visible("password")), "no password field");
    await field("sshJumps").fill("me@127.0.0.1:1");
    await field("sshBastion").fill("me@127.0.0.1:2");
    await form.locator('button[type="submit"]').click();
    await page.locator('[data-connection="pg-bastion"] [data-testid="ssh-route"]', { hasText: "via SSH me@127.0.0.1:1 → me@127.0.0.1:2" }).waitFor();
    await verdict.filter({ hasText: "pg-bastion: SSH failed" }).waitFor();
    await page.getByRole("button", { name: "Edit pg-bastion" }).click();
    assert.equal(await field("sshJumps").inputValue(), "me@127.0.0.1:1");
    assert.equal(await field("sshBastion").inputValue(), "me@127.0.0.1:2");
    await form.getByRole("button", { name: "Cancel" }).click();
  });

  if (sshd) {
    const host = `[127.0.0.1]:${sshd.port}`;
    await step("Test SSH only through a real sshd: the unknown key trusted from the form, then the server answers", async () => {
      await page.click('[data-testid="add-connection"]');
      await fillPostgres("pg-ssh", sshd.db);
      await form.locator('[data-testid="ssh-toggle"]').check();
      await field("sshBastion").fill(`${sshd.user}@127.0.0.1:${sshd.port}`);
      await field("sshIdentity").fill(sshd.key);
      await form.locator('[data-testid="test-ssh"]').click();
      const check = form.locator('[data-testid="ssh-check"]');
      await check.locator('[data-testid="test-verdict"]', { hasText: "pg-ssh: unknown SSH host key" }).waitFor();
      assert.equal(await check.locator('[data-testid="host-key-host"]').textContent(), host);
      await shot("only-unknown");
      // Trusted on the form's route (nothing is saved yet), then tried again.
      await check.locator('[data-testid="trust-host-key"]').click();
      await check.locator('[data-testid="ssh-check-verdict"]').waitFor({ timeout: 60000 });
      assert.equal(await check.locator('[data-testid="ssh-check-verdict"]').textContent(), "SSH works: 127.0.0.1:5432 answers through the tunnel");
      assert.equal(await check.getAttribute("data-ok"), "true");
      assert.match(await check.textContent(), new RegExp(`ED25519 ${sshd.fingerprint.replace(/[+/]/g, "\\$&")}`));
      assert.match(await check.textContent(), /Logged in.*by publickey/);
      assert.match(readFileSync(sshd.knownHosts, "utf8"), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `, "m"));
      assert.equal(await page.locator('[data-connection="pg-ssh"]').count(), 0, "nothing saved");
      await shot("only-ok");
      await form.getByRole("button", { name: "Cancel" }).click();
      // Forgotten again, for the test card's own question below.
      writeFileSync(sshd.knownHosts, "");
    });

    await step("test through a real sshd: an unknown host key shows its host and fingerprint", async () => {
      await page.click('[data-testid="add-connection"]');
      await fillPostgres("pg-ssh", sshd.db);
      await field("environment").fill("production");
      // The server trusts loopback logins: the command's password is sent and not needed.
      await field("passwordChoice").selectOption("command");
      await field("passwordCommand").fill("printf pw-from-command");
      await field("bind").check();
      await form.locator('[data-testid="ssh-toggle"]').check();
      await field("sshBastion").fill(`${sshd.user}@127.0.0.1:${sshd.port}`);
      await field("sshIdentity").fill(sshd.key);
      await form.locator('button[type="submit"]').click();
      await verdict.filter({ hasText: "pg-ssh: unknown SSH host key" }).waitFor();
      assert.equal(await card.locator('[data-testid="host-key-host"]').textContent(), host);
      assert.match(await card.locator('[data-testid="host-key-fingerprint"]').textContent(), new RegExp(`^ED25519 ${sshd.fingerprint.replace(/[+/]/g, "\\$&")}$`));
      assert.match(await card.locator('[data-testid="test-advice"]').textContent(), /Compare the fingerprint/);
      await card.locator('[data-testid="trust-host-key"]').waitFor();
      assert.equal(readFileSync(sshd.knownHosts, "utf8").trim(), "", "nothing trusted yet");
      await shot("unknown-host-key");
    });

    await step("trust: a failing trustHostKey shows its error; trusting the right key re-runs the test", async () => {
      // A fingerprint that is not the server's, as if the key changed in between.
      await page.route("**/api/invoke/trust_host_key", (route) => {
        const body = JSON.parse(route.request().postData());
        body.request.fingerprint = "ED25519 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        return route.continue({ postData: JSON.stringify(body) });
      });
      await card.locator('[data-testid="trust-host-key"]').click();
      await card.locator('[data-testid="trust-error"]').filter({ hasText: "nothing was trusted" }).waitFor();
      assert.ok(await card.locator('[data-testid="trust-host-key"]').isEnabled(), "the button is there to try again");
      await page.unroute("**/api/invoke/trust_host_key");
      await card.locator('[data-testid="trust-host-key"]').click();
      await verdict.filter({ hasText: "pg-ssh: connection works" }).waitFor({ timeout: 60000 });
      assert.match(readFileSync(sshd.knownHosts, "utf8"), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `, "m"));
    });

    await step("test: the SSH route, its host key and the login are rows of the card", async () => {
      const ssh = card.locator('[data-testid="ssh-report"]');
      assert.match(await ssh.textContent(), new RegExp(`SSH via ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} up in \\d`));
      const text = await card.textContent();
      assert.ok(text.includes(`ED25519 ${sshd.fingerprint}`), `the host key in: ${text}`);
      assert.match(text, /Logged in.*by publickey/);
      assert.match(text, /PostgreSQL 1\d/);
      await shot("test-ok");
    });

    const psql = (sqlText) => {
      const r = spawnSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-At", "-d", sshd.db, "-c", sqlText], { encoding: "utf8" });
      assert.equal(r.status, 0, `${sqlText}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const run = page.locator('[data-testid="run-dialog"]');

    await step("production through the bastion: an upgrade from the graph, backed up first", async () => {
      await page.click("#tab-graph");
      await page.waitForSelector('.legend [data-chip="pg-ssh"]');
      await page.selectOption('[data-testid="overlay"]', "pg-ssh");
      await page.locator('.row[data-id="8b0d3e6f1c58"]').click();
      await page.locator('[data-testid="detail"] [data-testid="node-upgrade"]').click();
      await run.waitFor();
      const steps = run.locator('[data-testid="plan-steps"] > li');
      await steps.first().waitFor();
      assert.equal(await steps.count(), 8, "the plan, read through the tunnel: 8 steps from an empty database");
      assert.match(await run.locator('[data-testid="run-env"]').textContent(), /production/);
      assert.equal(await run.locator('[data-testid="run-backup"]').isChecked(), true, "backup pre-checked for production");
      await run.locator('[data-testid="run-confirm"]').fill(sshd.db);
      await run.locator('[data-testid="run-start"]').click();
      const outcome = run.locator('[data-testid="run-outcome"]');
      await outcome.waitFor({ timeout: 120000 });
      assert.equal(await outcome.getAttribute("data-outcome"), "completed", await outcome.textContent());
      assert.match(await run.locator('[data-testid="run-backup-summary"]').textContent(), /Backup #\d+ \(pg_dump.*verified: /);
      assert.match(await outcome.textContent(), /now at 8b0d3e6f1c58/);
      await run.locator('[data-testid="run-result"]').scrollIntoViewIfNeeded();
      await shot("upgrade-done");
      await run.locator('[data-testid="run-close"]').click();
      await run.waitFor({ state: "detached" });
      assert.equal(psql("SELECT version_num FROM alembic_version"), "8b0d3e6f1c58");
    });

    await step("production through the bastion: the status board reads it through the tunnel", async () => {
      await page.click("#tab-status");
      await page.click('[data-testid="status-refresh"]');
      // The audit branch's head is not applied: behind, as it would be reached directly.
      await page.waitForSelector('.board-card[data-connection="pg-ssh"][data-standing="behind"]');
      assert.equal(await page.locator('.board-card[data-connection="pg-ssh"] [data-testid="standing"]').textContent(), "behind by 2");
    });

    await step("production through the bastion: the backup restored from the backups screen", async () => {
      await page.click("#tab-backups");
      await page.selectOption('[data-testid="backups-connection"] select', "pg-ssh");
      const row = page.locator('[data-testid="backups"] tbody tr[data-connection="pg-ssh"]').first();
      await row.waitFor();
      const id = await row.getAttribute("data-backup");
      await row.locator('[data-action="restore"]').click();
      const restore = page.locator(`[data-testid="restore-form"][data-for="${id}"]`);
      await restore.waitFor();
      assert.equal(await restore.locator('[data-testid="confirm-name"]').textContent(), sshd.db);
      await restore.locator('[data-testid="confirm-input"]').fill(sshd.db);
      await restore.locator('[data-testid="restore-go"]').click();
      const result = restore.locator('[data-testid="restore-result"]');
      await result.waitFor({ timeout: 120000 });
      assert.match(await result.textContent(), /Restored/, await result.textContent());
      await shot("restored");
      // The backup was of the empty database: nothing of the upgrade is left.
      assert.equal(psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
      await page.click("#tab-connections");
      await page.waitForSelector('[data-testid="keychain-status"]');
    });

    await step("a changed host key: OpenSSH's warning in red, nothing to trust", async () => {
      const tmp = mkdtempSync(join(tmpdir(), "retort-e2e-key-"));
      try {
        const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(tmp, "k")], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const [kind, key] = readFileSync(join(tmp, "k.pub"), "utf8").split(" ");
        writeFileSync(sshd.knownHosts, `${host} ${kind} ${key}\n`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      await page.click('[data-testid="test-pg-ssh"]');
      await verdict.filter({ hasText: "pg-ssh: the SSH host key has changed" }).waitFor();
      const warning = card.locator('[data-testid="host-key-warning"]');
      assert.match(await warning.textContent(), /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      const color = await warning.evaluate((el) => getComputedStyle(el).color);
      assert.equal(color, "rgb(207, 34, 46)", "the warning is red");
      assert.equal(await card.locator('[data-testid="trust-host-key"]').count(), 0, "no trust button for a changed key");
      assert.match(await card.locator('[data-testid="host-key-fingerprint"]').textContent(), new RegExp(sshd.fingerprint.replace(/[+/]/g, "\\$&")));
      await shot("changed-host-key");
      await page.getByRole("button", { name: "Edit pg-ssh" }).click();
      assert.equal(await field("sshIdentity").inputValue(), sshd.key, "the identity file in the edit form");
      assert.equal(await field("sshBastion").inputValue(), `${sshd.user}@127.0.0.1:${sshd.port}`);
    });
  }

  assert.deepEqual(consoleErrors, [], "no console errors");
} finally {
  await browser.close();
  child.kill();
}
console.log("all connection SSH UI steps passed");
