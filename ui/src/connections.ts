// Connections: the saved list (environment colour and tag), the add/edit form, and the
// connection test's result card.
import type { App, Screen } from "./main";
import { call, commands, CommandError } from "./api";
import { h, clear } from "./dom";
import type { ConnectionInput, ConnectionList, ConnectionReport, ConnectionView, Driver, PasswordChoice } from "./bindings";

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
        h("td", { class: "mono url" }, c.url),
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
    storage.value = existing ? "keep" : keychain ? "keychain" : "ask";
    const password = input("password", "", { type: "password", autocomplete: "new-password" });
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
    const passwordRows = h("div", { class: "group" }, field("Password kept in", storage), field("Password", password));
    const sync = () => {
      const sqlite = driver.value === "sqlite";
      networkRows.hidden = sqlite;
      sqliteRows.hidden = !sqlite;
      passwordRows.hidden = sqlite;
      password.disabled = storage.value === "ask" || storage.value === "none";
      fillTls();
    };
    driver.addEventListener("change", sync);
    storage.addEventListener("change", sync);
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
          if (storage.value === "ask" || storage.value === "none" || storage.value === "keep") storage.value = keychain ? "keychain" : "session";
          sync();
        }
        urlInput.value = "";
        this.app.say("The form was filled from the URL.");
      } catch (e) {
        this.app.error(e);
      }
    };

    const form = h(
      "form",
      { class: "card conn-form", "data-testid": "connection-form", "aria-label": existing ? `Edit ${existing.name}` : "Add a connection" },
      h("h2", null, existing ? `Edit ${existing.name}` : "Add a connection"),
      h("div", { class: "url-row" }, urlInput, h("button", { type: "button", onclick: fromUrl }, "Fill from URL")),
      field("Name", name),
      field("Driver", driver),
      networkRows,
      sqliteRows,
      field("Environment", environment, h("datalist", { id: "environments" }, ENVIRONMENTS.map((e) => h("option", { value: e })))),
      field("Colour", color),
      passwordRows,
      this.app.workspace ? h("label", { class: "check" }, bind, ` Bind to ${this.app.workspace.name} (show it on the graph)`) : null,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "submit", class: "primary" }, "Save"),
        h("button", { type: "button", onclick: () => clear(this.side) }, "Cancel"),
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const sqlite = driver.value === "sqlite";
      const choice = (sqlite ? (existing ? "keep" : "none") : storage.value) as PasswordChoice;
      const body: ConnectionInput = {
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
        bind: bind.checked,
      };
      try {
        const saved = await call(commands.saveConnection(body));
        password.value = "";
        this.app.say(`Saved ${saved.name}.`);
        if (body.bind) await this.app.refreshWorkspace().catch(() => undefined);
        await this.reload();
        await this.test(saved);
      } catch (err) {
        this.app.error(err);
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
      } else {
        clear(card, h("p", { class: "bad" }, (e as Error).message));
        this.app.error(e);
      }
    } finally {
      card.removeAttribute("aria-busy");
    }
  }
}

function storageText(s: string): string {
  return { none: "none", keychain: "OS keychain", session: "this session only", ask: "asked every time" }[s] ?? s;
}

function latency(v: number | null): string {
  if (v === null) return "—";
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`;
}

/** The report as rows: a verdict, then one line per check. */
export function reportCard(r: ConnectionReport): HTMLElement[] {
  const row = (mark: "ok" | "warn" | "bad" | "none", label: string, text: string) =>
    h("tr", { class: `check ${mark}` }, h("td", { class: "mark" }, { ok: "✓", warn: "!", bad: "✗", none: "–" }[mark]), h("th", null, label), h("td", null, text));
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
