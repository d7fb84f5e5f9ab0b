// Connections: the saved list (environment colour and tag), the add/edit form, and the
// connection test's result card.
import type { App, Screen } from "./main";
import { call, commands, CommandError } from "./api";
import { h, clear } from "./dom";
import { errorText, ms } from "./format";
import type { ConnectionInput, ConnectionList, ConnectionReport, ConnectionView, Driver, HostKeyQuestion, PasswordChoice, SshCheck, SshReport } from "./bindings";

const ENVIRONMENTS = ["development", "staging", "production"];
const PG_TLS = ["", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const MY_TLS = ["", "DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"];

export class ConnectionsScreen implements Screen {
  readonly root = h("section", { class: "screen connections", "aria-label": "Connections" });
  private list: ConnectionList | null = null;
  private readonly listEl = h("div", { class: "conn-list" });
  private readonly side = h("div", { class: "conn-side" });

  constructor(private readonly app: App) {}

  async show(): Promise<void> {
    clear(
      this.root,
      h(
        "div",
        { class: "screen-head" },
        h("h1", null, "Connections"),
        h("button", { class: "primary", onclick: () => this.form(null), "data-testid": "add-connection" }, "Add connection"),
      ),
      h("div", { class: "split" }, this.listEl, this.side),
    );
    await this.reload();
  }

  private async reload(): Promise<void> {
    try {
      this.list = await call(commands.listConnections());
    } catch (e) {
      this.app.error(e);
      return;
    }
    const { connections, keychain } = this.list;
    const banner = h(
      "p",
      { class: `banner ${keychain.available ? "ok" : "warn"}`, "data-testid": "keychain-status" },
      keychain.available ? `Passwords are kept in the OS keychain (${keychain.detail}).` : `No OS keychain here: ${keychain.detail}. Keep passwords for this session only, or have Retort ask every time.`,
    );
    const rows = connections.map((c) =>
      h(
        "tr",
        { "data-connection": c.name },
        h("td", null, h("span", { class: "swatch", style: { background: c.color }, title: c.color })),
        h("td", null, h("strong", null, c.name), c.bound ? h("span", { class: "tag", title: "bound to this workspace" }, "bound") : null),
        h("td", null, h("span", { class: "env-tag", style: { borderColor: c.color, color: c.color } }, c.environment)),
        h("td", { class: "mono url" }, c.url, c.sshHops.length ? h("div", { class: "small muted via", "data-testid": "ssh-route" }, `via SSH ${c.sshHops.join(" → ")}`) : null),
        h("td", { class: "small muted" }, storageText(c.passwordStorage)),
        h(
          "td",
          { class: "actions" },
          h("button", { onclick: () => this.test(c), "data-testid": `test-${c.name}` }, "Test"),
          h("button", { onclick: () => this.form(c), "aria-label": `Edit ${c.name}` }, "Edit"),
          !c.bound && this.app.workspace
            ? h("button", { onclick: () => this.bind(c.name), title: "Show this connection on the workspace's graph" }, "Bind")
            : null,
          h("button", { class: "danger", onclick: () => this.remove(c.name), "aria-label": `Delete ${c.name}` }, "Delete"),
        ),
      ),
    );
    clear(
      this.listEl,
      banner,
      connections.length === 0
        ? h("p", { class: "muted" }, "No saved connections yet.")
        : h(
            "table",
            { class: "table", "data-testid": "connections" },
            h("thead", null, h("tr", null, h("th", null, ""), h("th", null, "Name"), h("th", null, "Environment"), h("th", null, "URL"), h("th", null, "Password"), h("th", null, ""))),
            h("tbody", null, rows),
          ),
    );
  }

  private async bind(name: string): Promise<void> {
    try {
      this.app.setWorkspace(await call(commands.bindConnection(name)));
      this.app.say(`${name} is bound to ${this.app.workspace?.name}: its position shows on the graph.`);
      await this.reload();
    } catch (e) {
      this.app.error(e);
    }
  }

  private async remove(name: string): Promise<void> {
    if (!confirm(`Delete the connection ${name} and its kept password?`)) return;
    try {
      await call(commands.deleteConnection(name));
      this.app.say(`Deleted ${name}.`);
      clear(this.side);
      await this.reload();
    } catch (e) {
      this.app.error(e);
    }
  }

  // ----- the form ---------------------------------------------------------------------

  private form(existing: ConnectionView | null): void {
    const keychain = this.list?.keychain.available ?? false;
    const field = (label: string, input: HTMLElement, extra: HTMLElement | null = null) =>
      h("label", { class: "field" }, h("span", null, label), h("span", { class: "field-input" }, input, extra));
    const input = (name: string, value: string | number | null | undefined, attrs: Record<string, unknown> = {}) =>
      h("input", { name, value: value ?? "", spellcheck: "false", autocomplete: "off", ...attrs });
    const urlInput = input("url", "", { placeholder: "postgresql://user:password@host:5432/db?sslmode=require", "aria-label": "Paste a URL" });
    const name = input("name", existing?.name, { required: true });
    const driver = h(
      "select",
      { name: "driver" },
      (["postgresql", "mysql", "sqlite"] as Driver[]).map((d) => h("option", { value: d }, d === "postgresql" ? "PostgreSQL" : d === "mysql" ? "MySQL / MariaDB" : "SQLite")),
    );
    driver.value = existing?.driver ?? "postgresql";
    const host = input("host", existing?.host ?? "127.0.0.1");
    const port = input("port", existing?.port ?? "", { type: "number", min: 1, max: 65535, placeholder: "default" });
    const database = input("database", existing?.database);
    const user = input("user", existing?.user);
    const tlsMode = h("select", { name: "tlsMode" });
    const caFile = input("tlsCaFile", existing?.tlsCaFile, { placeholder: "/path/to/ca.pem" });
    const sqlitePath = input("sqlitePath", existing?.sqlitePath, { placeholder: "/path/to/database.db" });
    const environment = input("environment", existing?.environment ?? "development", { list: "environments" });
    const color = input("color", existing?.color ?? "#2da44e", { type: "color" });
    let colorTouched = false;
    color.addEventListener("input", () => (colorTouched = true));
    const storage = h(
      "select",
      { name: "passwordChoice" },
      existing ? h("option", { value: "keep" }, `keep (${storageText(existing.passwordStorage)})`) : null,
      h("option", { value: "keychain", disabled: !keychain }, `OS keychain${keychain ? "" : " (not available here)"}`),
      h("option", { value: "session" }, "this login session only (kernel keyring)"),
      h("option", { value: "ask" }, "ask every time"),
      h("option", { value: "none" }, "no password"),
    );
    storage.append(h("option", { value: "command" }, "from a command (run when needed, nothing kept)"));
    const isCommand = existing?.passwordStorage === "command";
    // A command connection is edited as "from a command": its command is in the form to change.
    storage.value = isCommand ? "command" : existing ? "keep" : keychain ? "keychain" : "ask";
    const password = input("password", "", { type: "password", autocomplete: "new-password" });
    const passwordCommand = input("passwordCommand", existing?.passwordCommand, {
      class: "mono",
      placeholder: "vault kv get -field=password secret/db",
      "aria-label": "Password command",
    });
    const passwordLifetime = input("passwordLifetime", existing?.passwordLifetime, {
      type: "number",
      min: 1,
      step: 1,
      placeholder: "600",
      "aria-label": "Password lifetime in seconds",
    });

    // SSH: the last hop is the bastion (it opens the connection to the database), the others
    // are jump hosts in order from this computer.
    const hops = existing?.sshHops ?? [];
    const sshOn = h("input", { type: "checkbox", name: "ssh", checked: hops.length > 0, "data-testid": "ssh-toggle" });
    const sshBastion = input("sshBastion", hops[hops.length - 1], { class: "mono", placeholder: "me@bastion.example:22 or a ~/.ssh/config alias", "aria-label": "SSH bastion" });
    const sshJumps = h(
      "textarea",
      { name: "sshJumps", class: "mono", rows: 2, spellcheck: "false", autocomplete: "off", placeholder: "optional: jump hosts before the bastion, comma- or line-separated", "aria-label": "SSH jump hosts" },
      hops.slice(0, -1).join("\n"),
    );
    const sshTest = h("button", { type: "button", "data-testid": "test-ssh" }, "Test SSH only");
    const sshCheck = h("div", { class: "ssh-check", "data-testid": "ssh-check", role: "status", hidden: true });
    const sshIdentity = input("sshIdentity", existing?.sshIdentity, { class: "mono", placeholder: "optional: /home/me/.ssh/id_ed25519", "aria-label": "SSH identity file" });
    const bind = h("input", { type: "checkbox", name: "bind", checked: !existing && !!this.app.workspace });

    const fillTls = () => {
      const modes = driver.value === "mysql" ? MY_TLS : PG_TLS;
      const keep = tlsMode.value || existing?.tlsMode || "";
      clear(tlsMode, modes.map((m) => h("option", { value: m }, m || "driver default")));
      tlsMode.value = modes.includes(keep) ? keep : "";
    };
    const networkRows = h(
      "div",
      { class: "group" },
      field("Host", host),
      field("Port", port),
      field("Database", database),
      field("User", user),
      field("TLS mode", tlsMode),
      field("CA file", caFile, h("button", { type: "button", onclick: () => this.pick("caFile", caFile) }, "Choose…")),
    );
    const sqliteRows = h(
      "div",
      { class: "group" },
      field("Database file", sqlitePath, h("button", { type: "button", onclick: () => this.pick("sqliteFile", sqlitePath) }, "Choose…")),
    );
    const sshFields = h(
      "div",
      { class: "group ssh-fields", "data-testid": "ssh-fields" },
      field("Bastion", sshBastion),
      field("Jump hosts", sshJumps),
      field("Identity file", sshIdentity),
      h("p", { class: "small muted field-note" }, "Host and port above are the database as the bastion reaches it. Keys come from ssh-agent, the identity file or ~/.ssh/config; host keys must be known."),
      h("div", { class: "buttons ssh-buttons" }, sshTest),
      sshCheck,
    );
    const sshRows = h(
      "fieldset",
      { class: "group ssh", "data-testid": "ssh-section" },
      h("legend", null, h("label", { class: "inline-label" }, sshOn, "Reach through SSH")),
      sshFields,
    );
    const passwordField = field("Password", password);
    const commandFields = h(
      "div",
      { class: "group", "data-testid": "password-command-fields" },
      field("Command", passwordCommand),
      field("Lifetime", passwordLifetime, h("span", { class: "unit muted" }, "seconds")),
      h("p", { class: "small muted field-note" }, "Run when the password is needed; its first line of output is the password. It is run again after the lifetime (600 s if empty)."),
    );
    const passwordRows = h("div", { class: "group" }, field("Password kept in", storage), passwordField, commandFields);
    const sync = () => {
      const sqlite = driver.value === "sqlite";
      networkRows.hidden = sqlite;
      sqliteRows.hidden = !sqlite;
      passwordRows.hidden = sqlite;
      sshRows.hidden = sqlite;
      sshFields.hidden = !sshOn.checked;
      const command = storage.value === "command";
      commandFields.hidden = !command;
      passwordField.hidden = command;
      password.disabled = command || storage.value === "ask" || storage.value === "none";
      fillTls();
    };
    driver.addEventListener("change", sync);
    storage.addEventListener("change", sync);
    sshOn.addEventListener("change", () => {
      sync();
      if (sshOn.checked) sshBastion.focus();
    });
    environment.addEventListener("change", () => {
      if (colorTouched) return;
      const defaults: Record<string, string> = { production: "#d73a49", prod: "#d73a49", staging: "#e3b341", stage: "#e3b341", development: "#2da44e", dev: "#2da44e" };
      color.value = defaults[environment.value.trim().toLowerCase()] ?? color.value;
    });
    sync();

    const fromUrl = async () => {
      try {
        const f = await call(commands.parseConnectionUrl(urlInput.value));
        if (f.driver) driver.value = f.driver;
        host.value = f.host ?? "";
        port.value = f.port ? String(f.port) : "";
        database.value = f.database ?? "";
        user.value = f.user ?? "";
        caFile.value = f.tlsCaFile ?? "";
        sqlitePath.value = f.sqlitePath ?? "";
        sync();
        tlsMode.value = f.tlsMode ?? "";
        if (f.password) {
          password.value = f.password;
          if (["ask", "none", "keep", "command"].includes(storage.value)) storage.value = keychain ? "keychain" : "session";
          sync();
        }
        urlInput.value = "";
        this.app.say("The form was filled from the URL.");
      } catch (e) {
        this.app.error(e);
      }
    };

    // Why the last save failed, next to the form (and on the status line).
    const formError = h("p", { class: "bad form-error", role: "alert", "data-testid": "form-error", hidden: true });
    const failed = (e: unknown) => {
      formError.textContent = errorText(e);
      formError.hidden = false;
      this.app.error(e);
    };
    const form = h(
      "form",
      { class: "card conn-form", "data-testid": "connection-form", "aria-label": existing ? `Edit ${existing.name}` : "Add a connection" },
      h("h2", null, existing ? `Edit ${existing.name}` : "Add a connection"),
      h("div", { class: "url-row" }, urlInput, h("button", { type: "button", onclick: fromUrl }, "Fill from URL")),
      field("Name", name),
      field("Driver", driver),
      networkRows,
      sshRows,
      sqliteRows,
      field("Environment", environment, h("datalist", { id: "environments" }, ENVIRONMENTS.map((e) => h("option", { value: e })))),
      field("Colour", color),
      passwordRows,
      this.app.workspace ? h("label", { class: "check" }, bind, ` Bind to ${this.app.workspace.name} (show it on the graph)`) : null,
      formError,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "submit", class: "primary" }, "Save"),
        h("button", { type: "button", onclick: () => clear(this.side) }, "Cancel"),
      ),
    );
    /** The form as the core takes it; an error text instead when a field the form checks is missing. */
    const inputOf = (): ConnectionInput | Error => {
      const sqlite = driver.value === "sqlite";
      const choice = (sqlite ? (existing ? "keep" : "none") : storage.value) as PasswordChoice;
      const command = choice === "command";
      if (command && !passwordCommand.value.trim()) {
        passwordCommand.focus();
        return new Error("enter the command that prints the password");
      }
      const ssh = !sqlite && sshOn.checked;
      const jumps = sshJumps.value.split(/[,\n]/).map((j) => j.trim()).filter(Boolean);
      const bastion = sshBastion.value.trim();
      if (ssh && !bastion) {
        sshBastion.focus();
        return new Error("enter the SSH bastion, or uncheck \"Reach through SSH\"");
      }
      return {
        originalName: existing?.name ?? null,
        name: name.value,
        driver: driver.value as Driver,
        host: sqlite ? null : host.value || null,
        port: sqlite || !port.value ? null : Number(port.value),
        database: sqlite ? null : database.value || null,
        user: sqlite ? null : user.value || null,
        tlsMode: sqlite ? null : tlsMode.value || null,
        tlsCaFile: sqlite ? null : caFile.value || null,
        sqlitePath: sqlite ? sqlitePath.value || null : null,
        environment: environment.value,
        color: colorTouched || existing ? color.value : null,
        passwordChoice: choice,
        password: password.disabled ? null : password.value || null,
        passwordCommand: command ? passwordCommand.value.trim() : null,
        passwordLifetime: command && passwordLifetime.value.trim() ? Number(passwordLifetime.value) : null,
        // The core checks each hop (and says which is wrong).
        sshHops: ssh ? [...jumps, bastion] : [],
        sshIdentity: ssh ? sshIdentity.value.trim() || null : null,
        bind: bind.checked,
      };
    };

    // "Test SSH only": the route as typed, before saving; no password is fetched.
    const testSsh = async () => {
      const body = inputOf();
      sshCheck.hidden = false;
      if (body instanceof Error) {
        clear(sshCheck, h("p", { class: "bad" }, body.message));
        return;
      }
      sshTest.disabled = true;
      sshCheck.setAttribute("aria-busy", "true");
      clear(sshCheck, h("p", { class: "muted" }, `Opening the SSH route to ${body.host ?? "localhost"}…`));
      try {
        const checked = await call(commands.testSsh(body));
        clear(sshCheck, ...sshCheckRows(checked));
        sshCheck.dataset.ok = "true";
      } catch (e) {
        sshCheck.dataset.ok = "false";
        if (e instanceof CommandError && e.kind === "ssh") {
          const route = { sshHops: body.sshHops ?? [], sshIdentity: body.sshIdentity ?? null };
          clear(sshCheck, ...this.routeFailure(body.name.trim() || "new", e, route, testSsh));
        } else {
          clear(sshCheck, h("p", { class: "bad" }, errorText(e)));
        }
      } finally {
        sshTest.disabled = false;
        sshCheck.removeAttribute("aria-busy");
      }
    };
    sshTest.addEventListener("click", () => void testSsh());

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      formError.hidden = true;
      const body = inputOf();
      if (body instanceof Error) {
        failed(body);
        return;
      }
      try {
        const saved = await call(commands.saveConnection(body));
        password.value = "";
        this.app.say(`Saved ${saved.name}.`);
        if (body.bind) await this.app.refreshWorkspace().catch(() => undefined);
        await this.reload();
        await this.test(saved);
      } catch (err) {
        failed(err);
      }
    });
    clear(this.side, form);
    name.focus();
  }

  private async pick(kind: "caFile" | "sqliteFile", into: HTMLInputElement): Promise<void> {
    try {
      const picked = await call(commands.pickPath(kind));
      if (picked.path) into.value = picked.path;
      else if (!picked.native) {
        this.app.say("No file dialog in the browser: type the path.");
        into.focus();
      }
    } catch (e) {
      this.app.error(e);
    }
  }

  // ----- the test ---------------------------------------------------------------------

  async test(c: ConnectionView, password: string | null = null): Promise<void> {
    const card = h("div", { class: "card report", "data-testid": "test-result", "aria-busy": "true" }, h("p", null, `Testing ${c.name}…`));
    clear(this.side, card);
    try {
      const report = await call(commands.testConnection(c.name, password));
      clear(card, ...reportCard(report));
      card.classList.add(report.ok ? "ok" : "failed");
    } catch (e) {
      if (e instanceof CommandError && e.kind === "passwordNeeded") {
        const pw = h("input", { type: "password", "aria-label": `Password for ${c.name}`, name: "test-password", autocomplete: "off" });
        const f = h(
          "form",
          { class: "inline" },
          h("p", null, `${c.name} keeps no password: enter it for this test (it is not saved).`),
          pw,
          h("button", { type: "submit", class: "primary" }, "Test"),
        );
        f.addEventListener("submit", (ev) => {
          ev.preventDefault();
          void this.test(c, pw.value);
        });
        clear(card, f);
        pw.focus();
      } else if (e instanceof CommandError && (e.kind === "ssh" || e.kind === "passwordCommand")) {
        clear(card, ...this.routeFailure(c.name, e, null, () => this.test(c, password)));
        card.classList.add("failed");
        // The card has the whole message and the advice; the status line only says where.
        this.app.error(new Error(`${c.name}: ${e.kind === "ssh" ? "the SSH route failed" : "the password command failed"} (see the test card)`));
      } else {
        clear(card, h("p", { class: "bad" }, (e as Error).message));
        this.app.error(e);
      }
    } finally {
      card.removeAttribute("aria-busy");
    }
  }

  /**
   * Why a test did not reach the database: the SSH route or the password command failed. An
   * unknown host key can be trusted from here (on `route`, the form's unsaved one, else the
   * saved connection's), then `retry` runs the test again.
   */
  private routeFailure(name: string, e: CommandError, route: { sshHops: string[]; sshIdentity: string | null } | null, retry: () => Promise<void>): HTMLElement[] {
    const key = e.error.hostKey ?? null;
    const what = e.kind === "passwordCommand" ? "the password command failed" : key?.changed ? "the SSH host key has changed" : key ? "unknown SSH host key" : "SSH failed";
    const head = h("h2", { class: "bad", "data-testid": "test-verdict" }, `${name}: ${what}`);
    const facts = (q: HostKeyQuestion) =>
      h(
        "dl",
        { class: "facts host-key", "data-testid": "host-key" },
        h("dt", null, "Host"),
        h("dd", { class: "mono", "data-testid": "host-key-host" }, q.host),
        h("dt", null, q.changed ? "Fingerprint now" : "Fingerprint"),
        h("dd", { class: "mono", "data-testid": "host-key-fingerprint" }, q.fingerprint),
      );
    const advice = e.hint ? h("p", { class: "advice", "data-testid": "test-advice" }, e.hint) : null;
    if (key?.changed) {
      // Refused: OpenSSH's warning, and nothing to click.
      return [
        head,
        h("div", { class: "failure", "data-testid": "test-failure", "data-kind": e.kind }, h("pre", { class: "banner bad-banner host-key-warning", "data-testid": "host-key-warning" }, e.message), facts(key), advice),
      ];
    }
    if (key) {
      const error = h("p", { class: "bad", role: "alert", "data-testid": "trust-error", hidden: true });
      const trust = h("button", { type: "button", class: "primary", "data-testid": "trust-host-key" }, "Trust this host key");
      trust.addEventListener("click", async () => {
        trust.disabled = true;
        error.hidden = true;
        try {
          const file = await call(commands.trustHostKey({ connection: name, host: key.host, fingerprint: key.fingerprint, sshHops: route?.sshHops ?? [], sshIdentity: route?.sshIdentity ?? null }));
          this.app.say(`Trusted the host key of ${key.host}: added to ${file}.`);
        } catch (err) {
          error.textContent = errorText(err);
          error.hidden = false;
          trust.disabled = false;
          this.app.error(err);
          return;
        }
        await retry();
      });
      return [
        head,
        h(
          "div",
          { class: "failure", "data-testid": "test-failure", "data-kind": e.kind },
          h("p", null, `The SSH server ${key.host} shows a host key that is not in known_hosts yet:`),
          facts(key),
          advice,
          h("div", { class: "buttons" }, trust),
          error,
        ),
      ];
    }
    return [
      head,
      h("div", { class: "failure", "data-testid": "test-failure", "data-kind": e.kind }, h("p", { class: "message" }, e.message), advice),
    ];
  }
}

function storageText(s: string): string {
  return { none: "none", keychain: "OS keychain", session: "this session only", ask: "asked every time", command: "from a command" }[s] ?? s;
}

function latency(v: number | null): string {
  if (v === null) return "—";
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

/** The SSH route's rows of a report: the tunnel, its host key, each hop's login. */
function sshRows(ssh: SshReport, row: (mark: "ok", label: string, text: string | HTMLElement) => HTMLElement): HTMLElement[] {
  const up = ssh.setupMs === null ? "" : ` up in ${ms(Math.round(ssh.setupMs))}`;
  const route = row("ok", "Tunnel", `${ssh.route}${up}`);
  route.dataset.testid = "ssh-report";
  const rows = [route];
  if (ssh.hostKey) rows.push(row("ok", "Host key", h("span", { class: "mono" }, ssh.hostKey)));
  for (const a of ssh.authenticated) rows.push(row("ok", "Logged in", a));
  return rows;
}

function checkRow(mark: "ok" | "warn" | "bad" | "none", label: string, text: string | HTMLElement): HTMLElement {
  return h("tr", { class: `check ${mark}` }, h("td", { class: "mark" }, { ok: "✓", warn: "!", bad: "✗", none: "–" }[mark]), h("th", null, label), h("td", null, text));
}

/** "Test SSH only"'s answer, under the SSH fields. */
function sshCheckRows(c: SshCheck): HTMLElement[] {
  return [
    h("p", { class: "good", "data-testid": "ssh-check-verdict" }, `SSH works: ${c.target} answers through the tunnel`),
    h("table", { class: "checks" }, h("tbody", null, ...sshRows(c.ssh, checkRow))),
  ];
}

/** The report as rows: a verdict, then one line per check. */
export function reportCard(r: ConnectionReport): HTMLElement[] {
  const row = checkRow;
  const head = h(
    "h2",
    { class: r.ok ? "good" : "bad", "data-testid": "test-verdict" },
    r.ok ? `${r.name}: connection works` : `${r.name}: ${r.failure?.label ?? "connection failed"}`,
  );
  const out: HTMLElement[] = [head, h("p", { class: "mono small muted" }, r.url)];
  if (!r.ok && r.failure) {
    out.push(
      h(
        "div",
        { class: "failure", "data-testid": "test-failure" },
        h("p", null, h("strong", null, r.failure.label), r.failure.code ? ` (${r.failure.code})` : "", `: ${r.failure.message}`),
        h("p", { class: "advice" }, r.failure.advice),
      ),
    );
    return out;
  }
  const rows: HTMLElement[] = [];
  if (r.ssh) rows.push(...sshRows(r.ssh, row));
  rows.push(row("ok", "Latency", `${latency(r.latencyMs ?? null)} round trip · connected in ${latency(r.connectMs ?? null)}`));
  rows.push(row("ok", "Server", [r.serverProduct, r.serverVersion].filter(Boolean).join(" ") || "—"));
  const tls = r.tls === "on" ? row("ok", "TLS", [r.tlsVersion, r.tlsCipher].filter(Boolean).join(" ") || "on") : r.tls === "not_applicable" ? row("none", "TLS", "not applicable (SQLite)") : row(r.target.startsWith("127.") || r.target.startsWith("localhost") ? "none" : "warn", "TLS", r.tls === "off" ? "off (plain text)" : "unknown");
  rows.push(tls);
  const vt = r.versionTable;
  if (vt) {
    const mark = vt.status === "up_to_date" ? "ok" : vt.status === "behind" || vt.status === "no_table" ? "warn" : "bad";
    rows.push(row(mark, "Version table", `${vt.detail}`));
    if (vt.pending.length) rows.push(row("none", "Pending", vt.pending.slice(0, 8).join(", ") + (vt.pending.length > 8 ? ` … (${vt.pending.length})` : "")));
  }
  if (r.canCreateTables !== null) rows.push(row(r.canCreateTables ? "ok" : "bad", "Privileges", r.createTablesDetail ?? (r.canCreateTables ? "may create tables" : "may not create tables")));
  if (r.lockFree !== null) {
    const holder = r.lockHolder ? ` — held by ${[r.lockHolder.application, r.lockHolder.user, r.lockHolder.client].filter(Boolean).join(", ")}` : "";
    rows.push(row(r.lockFree ? "ok" : "warn", "Migration lock", r.lockFree ? "free" : `taken${holder}`));
  }
  if (r.dumpTool) rows.push(row(r.dumpTool.found && r.dumpTool.compatible !== false ? "ok" : "warn", "Dump tool", r.dumpTool.detail));
  else if (r.backend === "sqlite") rows.push(row("none", "Dump tool", "not needed (Retort copies the file)"));
  for (const w of r.warnings) rows.push(row("warn", "Note", w));
  out.push(h("table", { class: "checks" }, h("tbody", null, rows)));
  return out;
}
