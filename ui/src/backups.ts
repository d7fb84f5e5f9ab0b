// Backups: the list per connection (time, revisions, size, verification), create with
// progress, verify, restore with the target's name typed, delete, reveal in the file manager.
// Also the helpers the management screens share: the connection picker (with a password
// field for connections that ask every time) and the backup progress card.
import type { App, Screen } from "./main";
import { call, commands } from "./api";
import { newRunId, RunProgress, Subscriptions } from "./events";
import { bytes, errorText, ms, when } from "./format";
import { h, clear } from "./dom";
import type { BackupProgress, BackupRecord, ConnectionView, RestoreVerification } from "./bindings";

// ----- shared helpers -------------------------------------------------------------------

/** The name to type to confirm an operation on a connection (as the backend's guard). */
export function databaseName(view: ConnectionView | null, projectUrl: string | null): string {
  if (view) {
    if (view.database) return view.database;
    if (view.sqlitePath) return view.sqlitePath.split(/[\\/]/).pop() || view.sqlitePath;
    return view.url;
  }
  const url = projectUrl ?? "";
  const path = url.replace(/^[^:]+:\/\/[^/]*\//, "").replace(/[?#].*$/, "");
  return path.split(/[\\/]/).pop() || url;
}

/**
 * A select of the workspace's bound connections and the project's own URL, and a password
 * field shown for connections that ask every time. `value` is null for the project URL.
 */
export class ConnectionPicker {
  readonly select = h("select", { "aria-label": "Connection", "data-testid": "connection-picker" });
  readonly password = h("input", { type: "password", placeholder: "Password", "aria-label": "Password", autocomplete: "off", "data-testid": "connection-password", hidden: true });
  readonly root = h("span", { class: "picker" }, this.select, this.password);
  views: ConnectionView[] = [];

  constructor(
    private readonly app: App,
    private readonly allOption: string | null = null,
    onChange: () => void = () => {},
  ) {
    this.select.addEventListener("change", () => {
      this.syncPassword();
      onChange();
    });
  }

  async load(): Promise<void> {
    try {
      this.views = (await call(commands.listConnections())).connections;
    } catch (e) {
      this.views = [];
      this.app.error(e);
    }
    // Read now, not before the wait: the user may have picked another one meanwhile.
    const keep = this.select.value;
    const bound = this.views.filter((v) => v.bound);
    const ws = this.app.workspace;
    clear(
      this.select,
      this.allOption !== null ? h("option", { value: "*" }, this.allOption) : null,
      ws?.projectUrl ? h("option", { value: "" }, `project URL (${ws.projectUrl})`) : null,
      bound.map((v) => h("option", { value: v.name }, `${v.name} (${v.environment})`)),
    );
    const values = [...this.select.options].map((o) => o.value);
    if (values.includes(keep)) this.select.value = keep;
    this.syncPassword();
  }

  /** null: the project's URL; "*": every connection (where offered). */
  get value(): string | null {
    return this.select.value === "" ? null : this.select.value;
  }

  set value(v: string | null) {
    this.select.value = v ?? "";
    this.syncPassword();
  }

  get view(): ConnectionView | null {
    return this.views.find((v) => v.name === this.select.value) ?? null;
  }

  get pass(): string | null {
    return this.view?.passwordStorage === "ask" ? this.password.value : null;
  }

  get label(): string {
    return this.value === null ? "the project URL" : this.value;
  }

  private syncPassword(): void {
    this.password.hidden = this.view?.passwordStorage !== "ask";
  }
}

/** What a restore was checked against: the core compared the database with the backup. */
export function verificationText(v: RestoreVerification): string {
  const counts = v.rowCounts === null ? "" : `, the row counts of ${v.rowCounts} tables`;
  const rows = v.revisions.length ? v.revisions.join(", ") : "none";
  return `${v.objects} objects${counts} and the version rows (${rows}) match the backup (${v.source}).`;
}

export function progressText(p: BackupProgress): string {
  switch (p.event) {
    case "started":
      return `started with ${p.tool}${p.estimatedBytes ? ` (about ${bytes(p.estimatedBytes)})` : ""} → ${p.path}`;
    case "copying": {
      const items = p.itemsDone !== null ? ` ${p.itemsDone}${p.itemsTotal ? ` / ${p.itemsTotal}` : ""}` : "";
      const b = p.bytesDone !== null ? ` ${bytes(p.bytesDone)}${p.bytesTotal ? ` of ${bytes(p.bytesTotal)}` : ""}` : "";
      return `copying${b}${items}${p.item ? ` (${p.item})` : ""}`;
    }
    case "verifying":
      return `verifying: ${p.what}`;
    case "restore_testing":
      return `test restore into ${p.into}`;
    case "restoring":
      return `restoring into ${p.target}`;
    case "finished":
      return `finished (${bytes(p.sizeBytes)})`;
  }
}

function fraction(p: BackupProgress): number | null {
  if (p.event === "copying") {
    if (p.bytesDone !== null && p.bytesTotal) return Math.min(1, p.bytesDone / p.bytesTotal);
    if (p.itemsDone !== null && p.itemsTotal) return Math.min(1, p.itemsDone / p.itemsTotal);
    return null;
  }
  if (p.event === "finished") return 1;
  if (p.event === "verifying" || p.event === "restore_testing") return 0.95;
  return null;
}

/** A progress card fed by `backupProgress` events of one run. */
export class ProgressView {
  readonly bar = h("progress", { max: "1" });
  readonly line = h("span", { class: "small", "data-testid": "progress-line" });
  readonly log = h("ol", { class: "progress-log small muted", "data-testid": "progress-log" });
  readonly root = h("div", { class: "progress-card", "data-testid": "progress" }, h("div", { class: "progress-row" }, this.bar, this.line), this.log);

  reset(text: string): void {
    this.bar.removeAttribute("value");
    this.line.textContent = text;
    clear(this.log);
  }

  backup(p: BackupProgress): void {
    const f = fraction(p);
    if (f !== null) this.bar.value = f;
    const text = progressText(p);
    this.line.textContent = text;
    // Copying events are many: keep the last one only.
    const last = this.log.lastElementChild as HTMLElement | null;
    if (p.event === "copying" && last?.dataset.event === "copying") last.textContent = text;
    else this.log.append(h("li", { "data-event": p.event }, text));
  }

  done(text: string): void {
    this.bar.value = 1;
    this.line.textContent = text;
  }
}

// ----- the screen -----------------------------------------------------------------------

export class BackupsScreen implements Screen {
  readonly root = h("section", { class: "screen manage backups", "aria-label": "Backups" });
  private readonly picker: ConnectionPicker;
  private readonly list = h("div", { "data-testid": "backups" });
  private readonly dirNote = h("p", { class: "small muted" });
  private readonly restoreTest = h("input", { type: "checkbox", "data-testid": "verify-restore" });
  private readonly createButton = h("button", { class: "primary", "data-testid": "create-backup", onclick: () => void this.create() }, "Create backup");
  private readonly cancelButton = h("button", { hidden: true, onclick: () => void this.cancel() }, "Cancel");
  private readonly progress = new ProgressView();
  private readonly panel = h("div", { class: "backup-panel", "data-testid": "backup-panel" });
  private backups: BackupRecord[] = [];
  private running: string | null = null;
  private focusId: number | null = null;
  private readonly events = new Subscriptions();
  private readonly backupRun = new RunProgress();
  private readonly restoreRun = new RunProgress();

  constructor(private readonly app: App) {
    this.picker = new ConnectionPicker(app, "every connection", () => void this.refresh());
    this.progress.root.hidden = true;
  }

  async show(): Promise<void> {
    this.events.clear();
    this.events.on("journalChanged", () => {
      if (!this.running) void this.refresh();
    });
    clear(
      this.root,
      h("div", { class: "screen-head" }, h("h1", null, "Backups"), h("label", { class: "inline-label", "data-testid": "backups-connection" }, "Connection ", this.picker.root)),
      h(
        "div",
        { class: "card" },
        h("div", { class: "buttons" }, this.createButton, h("label", { class: "inline-label" }, this.restoreTest, " test the restore into a scratch database"), this.cancelButton),
        this.progress.root,
        this.dirNote,
      ),
      this.panel,
      this.list,
    );
    if (!this.app.workspace) {
      clear(this.list, h("p", { class: "muted" }, "Open a workspace first."));
      return;
    }
    await this.picker.load();
    if (this.focusId !== null) this.picker.select.value = "*";
    await this.refresh();
  }

  hide(): void {
    this.events.clear();
  }

  /** Opens the list on one backup (from the journal). */
  async showBackup(id: number): Promise<void> {
    this.focusId = id;
    await this.app.go("backups");
  }

  /** Bumped by every refresh: an answer to an older one (another connection) is dropped. */
  private refreshes = 0;

  private async refresh(): Promise<void> {
    const choice = this.picker.select.value;
    const mine = ++this.refreshes;
    try {
      const list = await call(commands.listBackups(choice === "*" || choice === "" ? null : choice));
      if (mine !== this.refreshes) return;
      this.backups = choice === "" ? list.backups.filter((b) => b.connectionName === null) : list.backups;
      this.dirNote.textContent = `New backups go to ${list.backupDir}`;
    } catch (e) {
      this.app.error(e);
      return;
    }
    this.createButton.disabled = choice === "*" || !!this.running;
    this.renderList();
  }

  private renderList(): void {
    if (!this.backups.length) {
      clear(this.list, h("p", { class: "muted", "data-testid": "no-backups" }, "No backups for this connection yet."));
      return;
    }
    const rows = this.backups.map((b) => {
      const tr = h(
        "tr",
        { "data-backup": String(b.id), "data-connection": b.connectionName ?? "", class: b.id === this.focusId ? "focused" : "" },
        h("td", { class: "mono" }, `#${b.id}`),
        h("td", null, when(b.createdAt)),
        h("td", null, b.connectionName ?? h("span", { class: "muted" }, b.url)),
        h("td", { class: "mono small" }, b.revisions.length ? b.revisions.join(", ") : h("span", { class: "muted" }, "no version table")),
        h("td", null, bytes(b.sizeBytes)),
        h(
          "td",
          { class: "small", "data-testid": "verification" },
          h("span", { class: "good" }, "✓ "),
          b.verification,
          b.restoreTested ? h("span", { class: "tag" }, "restore tested") : null,
        ),
        h("td", { class: "small muted" }, `${b.tool}`),
        h(
          "td",
          { class: "actions" },
          h("button", { "data-action": "verify", onclick: () => void this.verify(b) }, "Verify"),
          h("button", { "data-action": "restore", onclick: () => void this.restoreForm(b) }, "Restore…"),
          h("button", { "data-action": "reveal", onclick: () => void this.reveal(b) }, "Reveal"),
          h("button", { class: "danger", "data-action": "delete", onclick: () => void this.remove(b) }, "Delete"),
        ),
      );
      return tr;
    });
    clear(
      this.list,
      h(
        "table",
        { class: "table" },
        h("thead", null, h("tr", null, ["", "Created", "Connection", "Revisions", "Size", "Verified", "Tool", ""].map((t) => h("th", null, t)))),
        h("tbody", null, rows),
      ),
    );
    if (this.focusId !== null) {
      const row = this.list.querySelector<HTMLElement>(`[data-backup="${this.focusId}"]`);
      row?.scrollIntoView({ block: "center" });
      this.focusId = null;
    }
  }

  private async create(): Promise<void> {
    const id = newRunId();
    this.running = id;
    this.createButton.disabled = true;
    this.cancelButton.hidden = false;
    this.progress.root.hidden = false;
    this.progress.reset(`backing up ${this.picker.label}…`);
    // For the whole run and after it, even while another screen is shown.
    this.backupRun.follow("backupProgress", id, (event) => this.progress.backup(event.progress as BackupProgress));
    try {
      const record = await call(commands.createBackup(id, this.picker.value, this.picker.pass, this.restoreTest.checked));
      this.progress.done(`backup #${record.id} done: ${bytes(record.sizeBytes)}, ${record.verification}`);
      this.app.say(`Backup #${record.id} of ${this.picker.label} created (${bytes(record.sizeBytes)}).${record.warnings.map((w) => ` Warning: ${w}`).join("")}`);
    } catch (e) {
      this.progress.done(`failed: ${errorText(e)}`);
      this.app.error(e);
    } finally {
      this.running = null;
      this.cancelButton.hidden = true;
      await this.refresh();
    }
  }

  private async cancel(): Promise<void> {
    if (this.running) await call(commands.cancelRun(this.running)).catch((e) => this.app.error(e));
  }

  private async verify(b: BackupRecord): Promise<void> {
    clear(this.panel, h("div", { class: "card" }, `Verifying backup #${b.id}…`));
    try {
      const text = await call(commands.verifyBackup(b.id!));
      clear(this.panel, h("div", { class: "card report ok", "data-testid": "verify-result" }, h("strong", { class: "good" }, `✓ Backup #${b.id} verified: `), text));
    } catch (e) {
      clear(this.panel, h("div", { class: "card report failed", "data-testid": "verify-result" }, h("strong", { class: "bad" }, `✗ Backup #${b.id} failed verification: `), errorText(e)));
    }
  }

  private async reveal(b: BackupRecord): Promise<void> {
    try {
      const r = await call(commands.revealBackup(b.id!));
      const copy = h("button", { onclick: () => void navigator.clipboard?.writeText(r.path).then(() => this.app.say("Path copied.")) }, "Copy");
      clear(
        this.panel,
        h(
          "div",
          { class: "card", "data-testid": "reveal-result" },
          r.opened ? "Opened in the file manager: " : "The backup's file: ",
          h("code", { "data-testid": "backup-path" }, r.path),
          " ",
          copy,
        ),
      );
    } catch (e) {
      this.app.error(e);
    }
  }

  private async remove(b: BackupRecord): Promise<void> {
    if (!window.confirm(`Delete backup #${b.id} of ${b.connectionName ?? b.url} (${when(b.createdAt)})? Its file is removed.`)) return;
    try {
      await call(commands.deleteBackup(b.id!));
      clear(this.panel);
      this.app.say(`Backup #${b.id} deleted.`);
    } catch (e) {
      this.app.error(e);
    }
    await this.refresh();
  }

  /** The restore form: the target (a connection of this workspace) and its name typed. */
  private async restoreForm(b: BackupRecord): Promise<void> {
    clear(this.panel);
    const target = new ConnectionPicker(this.app);
    await target.load();
    // Default: where the backup came from.
    if (b.connectionName && [...target.select.options].some((o) => o.value === b.connectionName)) target.value = b.connectionName;
    const expected = () => databaseName(target.view, this.app.workspace?.projectUrl ?? null);
    const name = h("code", { "data-testid": "confirm-name" });
    const typed = h("input", { name: "confirm", autocomplete: "off", spellcheck: "false", "aria-label": "Type the database's name to confirm", "data-testid": "confirm-input" });
    const go = h("button", { class: "primary danger-fill", disabled: true, "data-testid": "restore-go" }, "Restore");
    const progress = new ProgressView();
    progress.root.hidden = true;
    const result = h("div");
    const sync = () => {
      name.textContent = expected();
      go.disabled = typed.value.trim() !== expected();
    };
    target.select.addEventListener("change", sync);
    typed.addEventListener("input", sync);
    sync();
    const form = h(
      "form",
      { class: "card restore-form", "data-testid": "restore-form", "data-for": String(b.id), onsubmit: (e: Event) => e.preventDefault() },
      h("h2", null, `Restore backup #${b.id}`),
      h("p", null, `Taken ${when(b.createdAt)} from ${b.connectionName ?? b.url}, at ${b.revisions.join(", ") || "no version table"}.`),
      h("div", { class: "field-row" }, h("label", { class: "inline-label" }, "Into ", target.root)),
      h(
        "p",
        { class: "banner warn" },
        "Restoring replaces everything in the target database; tables created since the backup are dropped. Type ",
        name,
        " to confirm.",
      ),
      h("div", { class: "buttons" }, typed, go, h("button", { type: "button", onclick: () => clear(this.panel) }, "Close")),
      progress.root,
      result,
    );
    go.addEventListener("click", async () => {
      const id = newRunId();
      go.disabled = true;
      progress.root.hidden = false;
      progress.reset(`restoring #${b.id} into ${target.label}…`);
      this.restoreRun.follow("backupProgress", id, (event) => progress.backup(event.progress as BackupProgress));
      try {
        const report = await call(commands.restoreBackup(id, b.id!, target.value, target.pass, typed.value));
        progress.done(`restored in ${ms(report.durationMs)}`);
        clear(
          result,
          h(
            "div",
            { class: "report ok", "data-testid": "restore-result" },
            h("strong", { class: "good" }, "✓ Restored and verified "),
            `into ${report.target}: now at ${report.revisions.join(", ") || "no revision"}`,
            h("div", { class: "small muted", "data-testid": "restore-verification" }, verificationText(report.verification)),
            report.droppedTables.length ? h("div", { class: "small muted" }, `Dropped (created after the backup): ${report.droppedTables.join(", ")}`) : null,
          ),
        );
        this.app.say(`Backup #${b.id} restored into ${target.label}.`);
      } catch (e) {
        progress.done("not restored");
        clear(result, h("div", { class: "report failed bad", style: "white-space: pre-wrap", "data-testid": "restore-result" }, `✗ ${errorText(e)}`));
      } finally {
        sync();
      }
    });
    clear(this.panel, form);
    typed.focus();
  }
}
