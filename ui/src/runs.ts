// Upgrade / downgrade: a target picker, the plan from the database's real state (steps, their
// SQL, warnings, alembic's offline SQL), the safety gate (environment colour, backup, typed
// confirmation for production), the run (per-step progress, live log, cancel, lock waiting)
// and the result, with one-click recovery (restore the backup taken first, stamp, retry).
import type { App } from "./main";
import { call, commands, CommandError } from "./api";
import { newRunId, RunProgress, Subscriptions } from "./events";
import { bytes, count, errorText, ms } from "./format";
import { h, clear } from "./dom";
import type {
  BackupProgress,
  BackupRecord,
  ConnectionPosition,
  Operation,
  ProgressEvent,
  RunPreview,
  RunResult,
} from "./bindings";

// ----- shared: the active runs, the page-leave prompt ------------------------------------

/** Runs started by this page and not finished: leaving the page asks first. */
export const activeRuns = new Set<string>();
window.addEventListener("beforeunload", (e) => {
  if (activeRuns.size === 0) return;
  e.preventDefault();
  e.returnValue = "";
});

export function errorBox(e: unknown): HTMLElement {
  const kind = e instanceof CommandError ? e.kind : "internal";
  return h("div", { class: "banner bad-banner", "data-testid": "op-error", "data-kind": kind }, h("strong", null, "Error: "), errorText(e));
}

/** The connections one can run against: the bound ones and the project's own URL. */
export async function targets(): Promise<ConnectionPosition[]> {
  return await call(commands.connectionPositions());
}

/** `null` for the project's own URL (the position that is not saved). */
export const connectionArg = (p: ConnectionPosition | undefined): string | null => (p && p.saved ? p.name : null);

export function backupProgressText(p: BackupProgress): string {
  switch (p.event) {
    case "started":
      return `Backing up with ${p.tool} to ${p.path}${p.estimatedBytes ? ` (about ${bytes(p.estimatedBytes)})` : ""}…`;
    case "copying": {
      const parts = [];
      if (p.bytesDone !== null) parts.push(`${bytes(p.bytesDone)}${p.bytesTotal ? ` of ${bytes(p.bytesTotal)}` : ""}`);
      if (p.itemsDone !== null) parts.push(`${p.itemsDone}${p.itemsTotal ? ` / ${p.itemsTotal}` : ""} items`);
      return `Copying: ${parts.join(", ") || "…"}${p.item ? ` (${p.item})` : ""}`;
    }
    case "verifying":
      return `Verifying the backup: ${p.what}`;
    case "restore_testing":
      return `Test-restoring the backup into ${p.into}…`;
    case "restoring":
      return `Restoring into ${p.target}…`;
    case "finished":
      return `Backup finished (${bytes(p.sizeBytes)}).`;
  }
}

export function backupSummary(b: BackupRecord): string {
  return `Backup #${b.id ?? "?"} (${b.tool}, ${bytes(b.sizeBytes)}) — verified: ${b.verification}${b.restoreTested ? "; restore tested" : ""}`;
}

/** A typed confirmation: the button is enabled only when the input says `expected`. */
export function typedConfirm(expected: string, button: HTMLButtonElement, testid: string): HTMLElement {
  const input = h("input", { type: "text", "aria-label": `Type ${expected} to confirm`, "data-testid": testid, autocomplete: "off", spellcheck: "false" });
  const sync = () => (button.disabled = input.value !== expected);
  input.addEventListener("input", sync);
  sync();
  return h("label", { class: "confirm" }, "Type the database name ", h("code", null, expected), " to confirm: ", input);
}

// ----- the dialog ---------------------------------------------------------------------------

export interface RunOptions {
  command?: "upgrade" | "downgrade";
  target?: string;
  /** A position name (saved connection, or the project's own). */
  connection?: string | null;
}

type StampOpener = (app: App, opts: { targets: string[]; connection: string | null }) => void;
let stampOpener: StampOpener | null = null;
/** stamp.ts registers itself (the recovery action "stamp" opens it). */
export function setStampOpener(fn: StampOpener): void {
  stampOpener = fn;
}

export function openRunDialog(app: App, opts: RunOptions = {}): RunDialog {
  const d = new RunDialog(app, opts);
  void d.open();
  return d;
}

export class RunDialog {
  readonly root = h("dialog", { class: "op-dialog", "data-testid": "run-dialog", "aria-label": "Upgrade or downgrade" });
  private readonly head = h("header", null);
  private readonly restoreRun = new RunProgress();
  private readonly body = h("div", { class: "op-body" });
  private readonly connSelect = h("select", { "aria-label": "Connection", "data-testid": "run-connection" });
  private readonly cmdSelect = h(
    "select",
    { "aria-label": "Operation", "data-testid": "run-command" },
    h("option", { value: "upgrade" }, "Upgrade"),
    h("option", { value: "downgrade" }, "Downgrade"),
  );
  private readonly targetInput = h("input", { type: "text", list: "run-targets", "aria-label": "Target", "data-testid": "run-target", size: "18" });
  private readonly targetList = h("datalist", { id: "run-targets" });
  private readonly passwordInput = h("input", { type: "password", "aria-label": "Password", "data-testid": "run-password", autocomplete: "off" });
  private readonly planArea = h("div", { class: "op-plan", "data-testid": "plan" });
  private readonly gateArea = h("div", { class: "op-gate" });
  private readonly runArea = h("div", { class: "op-run" });
  private positions: ConnectionPosition[] = [];
  private running: string | null = null;
  private needPassword = false;
  private readonly events = new Subscriptions();

  constructor(
    private readonly app: App,
    private readonly opts: RunOptions,
  ) {
    this.root.addEventListener("cancel", (e) => {
      if (this.running) e.preventDefault();
    });
    this.root.addEventListener("close", () => {
      this.events.clear();
      this.root.remove();
    });
    this.cmdSelect.value = opts.command ?? "upgrade";
    this.targetInput.value = opts.target ?? (opts.command === "downgrade" ? "-1" : "head");
    for (const el of [this.connSelect, this.cmdSelect]) el.addEventListener("change", () => void this.plan());
    this.targetInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.plan();
      }
    });
    this.passwordInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.plan();
      }
    });
  }

  private get connection(): string | null {
    return connectionArg(this.positions.find((p) => p.name === this.connSelect.value));
  }
  private get password(): string | null {
    return this.passwordInput.value || null;
  }
  private get operation(): Operation {
    const target = this.targetInput.value.trim() || "head";
    return this.cmdSelect.value === "downgrade" ? { command: "downgrade", target } : { command: "upgrade", target };
  }

  async open(): Promise<void> {
    document.body.append(this.root);
    clear(
      this.root,
      this.head,
      h(
        "div",
        { class: "op-picker" },
        h("label", null, "Connection ", this.connSelect),
        h("label", null, "Operation ", this.cmdSelect),
        h("label", null, "Target ", this.targetInput, this.targetList),
        h("button", { onclick: () => void this.plan(), "data-testid": "run-plan" }, "Plan"),
      ),
      this.body,
    );
    clear(this.body, this.planArea, this.gateArea, this.runArea);
    this.root.showModal();
    this.setHeader(null);
    await this.loadConnections();
  }

  /** Fills the connection picker, then plans; if the list cannot be had, says so here and plans nothing. */
  private async loadConnections(): Promise<void> {
    clear(this.planArea, h("p", { class: "muted" }, "Reading where each connection stands…"));
    try {
      this.positions = await targets();
    } catch (e) {
      this.positions = [];
      clear(this.connSelect);
      const retry = h("button", { onclick: () => void this.loadConnections(), "data-testid": "run-retry-connections" }, "Try again");
      clear(this.planArea, errorBox(e), h("p", null, retry));
      return;
    }
    clear(
      this.connSelect,
      this.positions.map((p) => h("option", { value: p.name }, `${p.name} (${p.environment})${p.saved ? "" : " — the project's URL"}`)),
    );
    const want = this.opts.connection ?? this.positions.find((p) => p.saved)?.name ?? this.positions[0]?.name;
    if (want) this.connSelect.value = want;
    await this.fillTargets();
    await this.plan();
  }

  private async fillTargets(): Promise<void> {
    const options = ["head", "heads", "+1", "-1", "base"];
    try {
      const layout = await call(commands.graphLayout());
      for (const n of layout.nodes) for (const l of n.labels) options.push(`${l}@head`);
    } catch {
      /* the picker still has the generic targets */
    }
    clear(this.targetList, [...new Set(options)].map((o) => h("option", { value: o })));
  }

  private setHeader(p: RunPreview | null): void {
    const pos = this.positions.find((x) => x.name === this.connSelect.value);
    const color = p?.target.color ?? pos?.color ?? "var(--accent)";
    const env = p?.target.environment ?? pos?.environment ?? "";
    this.root.style.setProperty("--env", color);
    const op = this.operation;
    clear(
      this.head,
      h("strong", null, `${op.command === "downgrade" ? "Downgrade" : "Upgrade"} to ${"target" in op ? op.target : ""}`),
      h("span", null, ` on ${this.connSelect.value || "…"}`),
      env ? h("span", { class: "env-badge", "data-testid": "run-env" }, env + (p?.target.production && env !== "production" ? " — production" : "")) : null,
      h("span", { class: "spacer" }),
      h("button", { class: "close", "aria-label": "Close", "data-testid": "run-close", onclick: () => this.close() }, "×"),
    );
  }

  close(): void {
    if (this.running) {
      this.app.say("A run is under way: cancel it first (it stops between steps).");
      return;
    }
    this.root.close();
  }

  /** Plans from the database's real state. */
  async plan(): Promise<void> {
    if (this.running) return;
    this.setHeader(null);
    clear(this.planArea, h("p", { class: "muted" }, "Planning from the database's version table…"));
    clear(this.gateArea);
    clear(this.runArea);
    let p: RunPreview;
    try {
      p = await call(commands.planOperation(this.connection, this.password, this.operation));
    } catch (e) {
      if (e instanceof CommandError && e.kind === "passwordNeeded") this.needPassword = true;
      clear(this.planArea, errorBox(e), this.passwordRow());
      return;
    }
    this.setHeader(p);
    this.renderPlan(p);
    this.renderGate(p);
  }

  private passwordRow(): HTMLElement | null {
    if (!this.needPassword) return null;
    return h("p", null, h("label", null, "Password for this connection ", this.passwordInput), " ", h("button", { onclick: () => void this.plan() }, "Use it"));
  }

  private renderPlan(p: RunPreview): void {
    const plan = p.plan;
    const steps = plan.steps;
    const sqlOf = (s: (typeof steps)[number]) =>
      s.sql
        ? h(
            "details",
            null,
            h("summary", null, `SQL (${count(s.sql.statements.length, "statement")}${s.sql.transactional ? "" : ", outside a transaction"})`),
            h("pre", { class: "sql" }, s.sql.statements.map((st) => `${st.line !== null ? `-- line ${st.line}\n` : ""}${st.sql};\n`).join("\n")),
          )
        : null;
    const offline = h("div", { class: "offline", "data-testid": "offline-sql" });
    const offlineButton = h(
      "button",
      {
        "data-testid": "show-offline-sql",
        onclick: async () => {
          offlineButton.disabled = true;
          clear(offline, h("p", { class: "muted" }, "Rendering the SQL…"));
          try {
            const sql = await call(commands.offlineSql(this.connection, this.password, this.operation));
            clear(offline, h("pre", { class: "sql" }, sql));
          } catch (e) {
            clear(offline, errorBox(e));
          } finally {
            offlineButton.disabled = false;
          }
        },
      },
      p.alembic ? "Show alembic's offline SQL" : "Show the whole SQL",
    );
    clear(
      this.planArea,
      h(
        "p",
        { class: "small" },
        h("span", { class: "muted" }, "Now at "),
        h("code", { "data-testid": "plan-current" }, plan.current.join(", ") || "base (nothing applied)"),
        h("span", { class: "muted" }, " → after the run "),
        h("code", { "data-testid": "plan-result" }, plan.resultingHeads.join(", ") || "base"),
        plan.createsVersionTable ? h("span", { class: "tag" }, "creates the version table") : null,
        h("span", { class: "muted" }, ` · ${p.target.backend}: ${p.target.url}`),
      ),
      steps.length === 0
        ? h("p", { class: "good", "data-testid": "plan-empty" }, "Nothing to do: the database is already there.")
        : h(
            "ol",
            { class: "op-steps", "data-testid": "plan-steps" },
            steps.map((s) => h("li", { "data-step": s.revision ?? "" }, h("span", { class: "mono" }, s.description), sqlOf(s))),
          ),
      p.warnings.length
        ? h(
            "ul",
            { class: "op-warnings", "data-testid": "plan-warnings" },
            p.warnings.map((w) => h("li", { "data-kind": w.kind }, "⚠ ", w.revision ? h("code", null, w.revision, " ") : null, w.message)),
          )
        : null,
      h("div", { class: "buttons" }, offlineButton),
      offline,
    );
  }

  private renderGate(p: RunPreview): void {
    if (p.plan.steps.length === 0) return;
    const t = p.target;
    const backup = h("input", { type: "checkbox", checked: p.backupRequired || t.production, "data-testid": "run-backup" });
    const verifyRestore = h("input", { type: "checkbox", "data-testid": "run-verify-restore" });
    const run = h("button", { class: "primary", "data-testid": "run-start" }, `Run ${count(p.plan.steps.length, "step")}`);
    const skipNote = h("p", { class: "small warn-text", hidden: true }, "No backup: typing the database name below also confirms running without one.");
    const syncBackup = () => {
      skipNote.hidden = !(t.production && !backup.checked);
    };
    backup.addEventListener("change", syncBackup);
    syncBackup();
    const confirm = t.production ? typedConfirm(t.database, run, "run-confirm") : null;
    run.addEventListener("click", () => {
      const typed = (this.gateArea.querySelector('[data-testid="run-confirm"]') as HTMLInputElement | null)?.value ?? null;
      void this.run(p, backup.checked, verifyRestore.checked, typed);
    });
    clear(
      this.gateArea,
      h(
        "div",
        { class: "op-gate-box" },
        h(
          "label",
          { class: "check" },
          backup,
          " Take a verified backup first",
          p.backupRequired ? h("span", { class: "tag warn" }, "required for production") : null,
          h("span", { class: "small muted" }, ` → ${p.backupDir}`),
        ),
        h("label", { class: "check" }, verifyRestore, " Also test-restore the backup into a scratch database"),
        skipNote,
        confirm,
        h("div", { class: "buttons" }, run, h("button", { onclick: () => this.close() }, "Close")),
      ),
    );
  }

  // ----- the run ----------------------------------------------------------------------------

  private async run(p: RunPreview, backup: boolean, verifyRestore: boolean, typed: string | null): Promise<void> {
    const runId = newRunId();
    this.running = runId;
    activeRuns.add(runId);
    const steps = p.plan.steps;
    const items = steps.map((s, i) =>
      h("li", { class: "op-step", "data-index": String(i), "data-state": "waiting" }, h("span", { class: "mark" }, "○"), " ", h("span", { class: "mono" }, s.description), h("span", { class: "dur small muted" })),
    );
    const backupLine = h("p", { class: "small", "data-testid": "backup-progress", hidden: !backup });
    const lockLine = h("p", { class: "banner warn", "data-testid": "lock-waiting", hidden: true });
    const log = h("pre", { class: "op-log", "data-testid": "run-log" });
    const cancel = h(
      "button",
      {
        class: "danger",
        "data-testid": "run-cancel",
        onclick: async () => {
          cancel.disabled = true;
          try {
            const ok = await call(commands.cancelRun(runId));
            this.logLine(log, ok ? "Cancel asked: the run stops after the current step." : "Nothing to cancel.");
          } catch (e) {
            this.logLine(log, `Cancel failed: ${errorText(e)}`);
          }
        },
      },
      "Cancel (between steps)",
    );
    const resultArea = h("div", { "data-testid": "run-result" });
    clear(this.gateArea);
    for (const b of this.root.querySelectorAll<HTMLButtonElement>(".op-picker button, .op-plan button")) b.disabled = true;
    this.connSelect.disabled = this.cmdSelect.disabled = this.targetInput.disabled = true;
    clear(this.runArea, h("h3", null, "Run"), backupLine, lockLine, h("ol", { class: "op-progress", "data-testid": "run-steps" }, items), h("div", { class: "buttons" }, cancel), h("details", { open: true }, h("summary", null, "Log"), log), resultArea);
    if (backup) backupLine.textContent = "Backup: starting…";

    const find = (index: number | null, description: string) =>
      (index !== null && items[index]) || items.find((li) => li.textContent?.includes(description) && li.dataset.state !== "done") || null;
    const setState = (li: HTMLElement | null, state: string, mark: string, dur?: string) => {
      if (!li) return;
      li.dataset.state = state;
      li.querySelector(".mark")!.textContent = mark;
      if (dur !== undefined) li.querySelector(".dur")!.textContent = dur ? ` ${dur}` : "";
    };
    this.events.clear();
    this.events.on("backupProgress", (ev) => {
      if (ev.runId !== runId) return;
      backupLine.hidden = false;
      backupLine.textContent = backupProgressText(ev.progress);
      this.logLine(log, `backup: ${backupLine.textContent}`);
    });
    this.events.on("runProgress", (ev) => {
      if (ev.runId === runId) {
        const pr: ProgressEvent = ev.progress;
        switch (pr.event) {
          case "lock_waiting": {
            const hd = pr.holder;
            const who = hd ? [hd.application && `application ${hd.application}`, hd.user && `user ${hd.user}`, hd.client && `from ${hd.client}`, hd.pid !== null && `pid ${hd.pid}`, hd.since && `since ${hd.since}`].filter(Boolean).join(", ") : "";
            lockLine.hidden = false;
            lockLine.textContent = `Waiting for the migration lock, held by ${who || "another session"}…`;
            this.logLine(log, lockLine.textContent);
            break;
          }
          case "planned":
            lockLine.hidden = true;
            this.logLine(log, `Lock held; ${pr.total ?? "?"} step(s)${pr.createsVersionTable ? ", creating the version table" : ""}.`);
            break;
          case "step_started":
            setState(find(pr.index, pr.description), "running", "◐");
            this.logLine(log, `→ ${pr.description}`);
            break;
          case "outside_transaction":
            this.logLine(log, `  (outside a transaction: ${pr.reason})`);
            break;
          case "step_finished":
            setState(find(pr.index, pr.description), "done", "✓", ms(pr.durationMs));
            this.logLine(log, `✓ ${pr.description} ${ms(pr.durationMs)}`);
            break;
          case "step_failed":
            setState(find(pr.index, pr.description), "failed", "✗", ms(pr.durationMs));
            this.logLine(log, `✗ ${pr.description}: ${pr.error}`);
            break;
          case "output":
            this.logLine(log, pr.line);
            break;
        }
      }
    });

    let result: RunResult | null = null;
    let error: unknown = null;
    try {
      result = await call(
        commands.runOperation({
          runId,
          connection: this.connection,
          password: this.password,
          operation: p.plan.operation,
          backup,
          verifyRestore,
          confirmDatabase: typed,
          verifyStamp: false,
          acceptMismatch: false,
          lockTimeoutSeconds: null,
        }),
      );
    } catch (e) {
      error = e;
    } finally {
      activeRuns.delete(runId);
      this.running = null;
      cancel.disabled = true;
      this.connSelect.disabled = this.cmdSelect.disabled = this.targetInput.disabled = false;
      for (const b of this.root.querySelectorAll<HTMLButtonElement>(".op-picker button")) b.disabled = false;
    }
    if (error || !result) {
      this.logLine(log, `Error: ${errorText(error)}`);
      clear(resultArea, errorBox(error), h("p", { class: "small muted" }, "Nothing was run."), h("div", { class: "buttons" }, h("button", { onclick: () => void this.plan(), "data-testid": "recover-retry" }, "Plan again")));
      backupLine.textContent = backupLine.textContent === "Backup: starting…" ? "" : backupLine.textContent;
      return;
    }
    if (result.backup) backupLine.textContent = backupSummary(result.backup);
    for (const c of result.report.completed) {
      const li = items.find((x) => x.dataset.state !== "done" && x.textContent?.includes(c.description));
      setState(li ?? null, "done", "✓", ms(c.durationMs));
    }
    this.renderResult(resultArea, result);
    void this.app.refreshWorkspace().catch(() => undefined);
  }

  private logLine(log: HTMLElement, line: string): void {
    log.append(`${new Date().toLocaleTimeString()}  ${line}\n`);
    log.scrollTop = log.scrollHeight;
  }

  private renderResult(area: HTMLElement, r: RunResult): void {
    const rep = r.report;
    const f = rep.failure;
    const total = rep.completed.reduce((a, c) => a + (c.durationMs ?? 0), 0);
    const heads = (x: string[]) => x.join(", ") || "base";
    const summary =
      rep.outcome === "completed"
        ? h("p", { class: "good", "data-testid": "run-outcome", "data-outcome": "completed" }, `✓ Completed: ${count(rep.completed.length, "step")} in ${ms(total)}. The version table is now at ${heads(rep.headsAfter)}.`)
        : rep.outcome === "cancelled"
          ? h("p", { class: "warn-text", "data-testid": "run-outcome", "data-outcome": "cancelled" }, `Cancelled after ${rep.completed.length} step(s). The version table is at ${heads(rep.headsAfter)}.`)
          : h("p", { class: "bad", "data-testid": "run-outcome", "data-outcome": "failed" }, `✗ Failed. The version table is at ${heads(rep.headsAfter)}.`);
    const recovery = h("div", { class: "buttons", "data-testid": "recovery" });
    const restoreArea = h("div", { "data-testid": "restore-area" });
    if (rep.outcome !== "completed") {
      const id = r.backup?.id;
      if (id !== null && id !== undefined) {
        recovery.append(
          h(
            "button",
            {
              "data-testid": "recover-restore",
              onclick: () => this.restoreForm(restoreArea, id, r),
            },
            `Restore the backup taken before this run (#${id})`,
          ),
        );
      }
      recovery.append(
        h(
          "button",
          {
            "data-testid": "recover-stamp",
            onclick: () => {
              this.root.close();
              stampOpener?.(this.app, { targets: f?.revision ? [f.revision] : rep.headsAfter.length ? rep.headsAfter : ["base"], connection: this.connSelect.value || null });
            },
          },
          "Stamp…",
        ),
        h("button", { "data-testid": "recover-retry", onclick: () => void this.plan() }, "Retry (plan again)"),
      );
    }
    clear(
      area,
      h("div", { class: `card report ${rep.outcome === "completed" ? "ok" : "failed"}` },
        summary,
        r.backup ? h("p", { class: "small", "data-testid": "run-backup-summary" }, backupSummary(r.backup), h("br"), h("span", { class: "muted mono" }, r.backup.path)) : null,
        rep.completed.length
          ? [h("h3", null, "Committed"), h("ul", { "data-testid": "result-completed" }, rep.completed.map((c) => h("li", null, "✓ ", h("span", { class: "mono" }, c.description), h("span", { class: "small muted" }, ` ${ms(c.durationMs)}`))))]
          : null,
        f
          ? h(
              "div",
              { class: "failure", "data-testid": "result-failure" },
              h("h3", null, "Failed step"),
              h("p", null, h("span", { class: "mono" }, f.description), f.path ? h("span", { class: "small muted" }, ` — ${f.path}${f.line !== null ? `:${f.line}` : ""}`) : null),
              f.statement ? h("pre", { class: "sql", "data-testid": "failure-statement" }, f.statement) : null,
              h("p", { class: "bad", "data-testid": "failure-error" }, f.error),
              h("p", null, f.rolledBack ? "The step's changes were rolled back completely." : h("strong", { class: "bad" }, "The step was not rolled back completely.")),
              f.committedStatements.length
                ? [h("p", null, "Statements of the failing step that had already committed:"), h("pre", { class: "sql", "data-testid": "failure-committed" }, f.committedStatements.map(([line, sql]) => `${line !== null ? `-- line ${line}\n` : ""}${sql};`).join("\n"))]
                : null,
              h("p", { class: "small" }, "Version table after the failure: ", h("code", null, heads(f.versionRows))),
              f.advice.length ? h("ul", { class: "advice" }, f.advice.map((a) => h("li", null, a))) : null,
            )
          : null,
        rep.notRun.length ? [h("h3", null, "Not run"), h("ul", { "data-testid": "result-not-run" }, rep.notRun.map((d) => h("li", { class: "muted mono" }, d)))] : null,
        r.journalEntry !== null ? h("p", { class: "small muted" }, `Journal entry #${r.journalEntry}.`) : null,
        r.journalError ? h("p", { class: "small bad" }, `The journal could not be written: ${r.journalError}`) : null,
        recovery,
        restoreArea,
      ),
    );
  }

  private restoreForm(area: HTMLElement, id: number, r: RunResult): void {
    const go = h("button", { class: "primary", "data-testid": "restore-start" }, `Restore backup #${id}`);
    const line = h("p", { class: "small", "data-testid": "restore-progress" });
    const confirm = typedConfirm(r.target.database, go, "restore-confirm");
    go.addEventListener("click", async () => {
      const runId = newRunId();
      activeRuns.add(runId);
      this.running = runId;
      go.disabled = true;
      this.restoreRun.follow("backupProgress", runId, (ev) => (line.textContent = backupProgressText(ev.progress)));
      try {
        const typed = (confirm.querySelector("input") as HTMLInputElement).value;
        const rep = await call(commands.restoreBackup(runId, id, this.connection, this.password, typed));
        clear(
          area,
          h(
            "p",
            { class: "good", "data-testid": "restore-result" },
            `✓ Restored backup #${id} in ${ms(rep.durationMs)}: the version table is at ${rep.revisions.join(", ") || "base (nothing applied)"}.`,
            rep.droppedTables.length ? ` Dropped the tables created after the backup: ${rep.droppedTables.join(", ")}.` : "",
          ),
        );
        void this.app.refreshWorkspace().catch(() => undefined);
      } catch (e) {
        go.disabled = false;
        area.append(errorBox(e));
      } finally {
        activeRuns.delete(runId);
        this.running = null;
      }
    });
    clear(area, h("div", { class: "op-gate-box" }, h("p", null, `Restoring puts ${r.target.database} back as it was before this run (tables created since are dropped).`), confirm, line, h("div", { class: "buttons" }, go)));
  }
}

// ----- the graph's node actions -------------------------------------------------------------

function nodeActionList(app: App, id: string, connection: string | null): [string, string, () => void][] {
  return [
    ["Upgrade to here", "node-upgrade", () => void openRunDialog(app, { command: "upgrade", target: id, connection })],
    ["Downgrade to here", "node-downgrade", () => void openRunDialog(app, { command: "downgrade", target: id, connection })],
    ["Stamp here", "node-stamp", () => stampOpener?.(app, { targets: [id], connection })],
  ];
}

/** The buttons of the detail panel: upgrade / downgrade / stamp to this revision. */
export function nodeActions(app: App, id: string, connection: string | null): HTMLElement {
  return h(
    "div",
    { class: "buttons node-actions", "data-testid": "node-actions" },
    nodeActionList(app, id, connection).map(([label, testid, fn]) => h("button", { "data-testid": testid, onclick: fn }, label)),
  );
}

let menu: HTMLElement | null = null;
/** The context menu of a graph node (right-click). */
export function nodeMenu(app: App, id: string, connection: string | null, x: number, y: number): void {
  menu?.remove();
  const close = (ev?: Event) => {
    if (ev && menu?.contains(ev.target as Node)) return;
    menu?.remove();
    menu = null;
    document.removeEventListener("click", close, true);
  };
  menu = h(
    "div",
    { class: "context-menu", role: "menu", "data-testid": "node-menu", style: { left: `${x}px`, top: `${y}px` } },
    h("div", { class: "small muted mono" }, id),
    nodeActionList(app, id, connection).map(([label, testid, fn]) =>
      h("button", { role: "menuitem", "data-testid": `menu-${testid}`, onclick: () => { close(); fn(); } }, label),
    ),
  );
  menu.addEventListener("keydown", (e) => e.key === "Escape" && close());
  document.body.append(menu);
  menu.querySelector<HTMLButtonElement>("button")?.focus();
  setTimeout(() => document.addEventListener("click", close, true));
}
