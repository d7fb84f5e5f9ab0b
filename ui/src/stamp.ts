// Stamp: the target revision(s) (from the graph; several at once), "Verify against the
// schema" (the implied schema is built in a scratch database and compared, nothing written),
// the purge option, and a mismatch that must be accepted explicitly before Stamp is enabled.
import type { App } from "./main";
import { call, commands, CommandError } from "./api";
import { h, clear } from "./dom";
import { count } from "./format";
import type { ConnectionPosition, StampCheck } from "./bindings";
import { activeRuns, connectionArg, errorBox, setStampOpener, targets, typedConfirm } from "./runs";
import { newRunId } from "./events";

export interface StampOptions {
  targets: string[];
  connection?: string | null;
}

let openDialog: StampDialog | null = null;

/** Opens the stamp dialog, or adds the targets to the one already open. */
export function openStampDialog(app: App, opts: StampOptions): void {
  if (openDialog) {
    openDialog.addTargets(opts.targets);
    return;
  }
  openDialog = new StampDialog(app, opts);
  void openDialog.open();
}
setStampOpener((app, opts) => openStampDialog(app, opts));

export class StampDialog {
  readonly root = h("dialog", { class: "op-dialog", "data-testid": "stamp-dialog", "aria-label": "Stamp" });
  private readonly head = h("header", null);
  private readonly connSelect = h("select", { "aria-label": "Connection", "data-testid": "stamp-connection" });
  private readonly targetsInput = h("input", { type: "text", "aria-label": "Revisions to stamp", "data-testid": "stamp-targets", size: "40" });
  private readonly purge = h("input", { type: "checkbox", "data-testid": "stamp-purge" });
  private readonly passwordInput = h("input", { type: "password", "aria-label": "Password", autocomplete: "off" });
  private readonly verifyButton = h("button", { "data-testid": "stamp-verify" }, "Verify against the schema");
  private readonly checkArea = h("div", { "data-testid": "stamp-check" });
  private readonly gateArea = h("div", null);
  private readonly resultArea = h("div", { "data-testid": "stamp-result" });
  private positions: ConnectionPosition[] = [];
  private running = false;

  constructor(
    private readonly app: App,
    private readonly opts: StampOptions,
  ) {
    this.targetsInput.value = opts.targets.join(" ");
    this.root.addEventListener("cancel", (e) => {
      if (this.running) e.preventDefault();
    });
    this.root.addEventListener("close", () => {
      if (openDialog === this) openDialog = null;
      this.root.remove();
    });
    for (const el of [this.connSelect, this.targetsInput, this.purge]) el.addEventListener("change", () => this.invalidate());
    this.targetsInput.addEventListener("input", () => this.invalidate());
    this.verifyButton.addEventListener("click", () => void this.verify());
  }

  private get targets(): string[] {
    return this.targetsInput.value.split(/[\s,]+/).filter(Boolean);
  }
  private get connection(): string | null {
    return connectionArg(this.positions.find((p) => p.name === this.connSelect.value));
  }
  private get password(): string | null {
    return this.passwordInput.value || null;
  }

  addTargets(ids: string[]): void {
    const set = new Set(this.targets);
    for (const id of ids) set.add(id);
    this.targetsInput.value = [...set].join(" ");
    this.invalidate();
  }

  async open(): Promise<void> {
    document.body.append(this.root);
    clear(
      this.root,
      this.head,
      h(
        "div",
        { class: "op-body" },
        h(
          "div",
          { class: "op-picker" },
          h("label", null, "Connection ", this.connSelect),
          h("label", null, "Revisions ", this.targetsInput),
        ),
        h("p", { class: "small muted" }, "Stamping writes the version table only: no migration runs. Several revisions (one per branch) may be given, separated by spaces."),
        h(
          "label",
          { class: "check" },
          this.purge,
          " Purge — ",
          h("span", { class: "muted" }, "deletes every row of the version table first; use when the table names revisions this project no longer has."),
        ),
        h("details", { class: "small" }, h("summary", null, "Password (for a connection that asks every time)"), this.passwordInput),
        h("div", { class: "buttons" }, this.verifyButton),
        this.checkArea,
        this.gateArea,
        this.resultArea,
      ),
    );
    this.root.showModal();
    try {
      this.positions = await targets();
    } catch (e) {
      this.app.error(e);
    }
    clear(this.connSelect, this.positions.map((p) => h("option", { value: p.name }, `${p.name} (${p.environment})${p.saved ? "" : " — the project's URL"}`)));
    const want = this.opts.connection ?? this.positions.find((p) => p.saved)?.name ?? this.positions[0]?.name;
    if (want) this.connSelect.value = want;
    this.invalidate();
  }

  private setHeader(check: StampCheck | null): void {
    const pos = this.positions.find((x) => x.name === this.connSelect.value);
    this.root.style.setProperty("--env", check?.target.color ?? pos?.color ?? "var(--accent)");
    const env = check?.target.environment ?? pos?.environment;
    clear(
      this.head,
      h("strong", null, `Stamp ${this.targets.join(", ") || "…"}`),
      h("span", null, ` on ${this.connSelect.value || "…"}`),
      env ? h("span", { class: "env-badge" }, env + (check?.target.production && env !== "production" ? " — production" : "")) : null,
      h("span", { class: "spacer" }),
      h("button", { class: "close", "aria-label": "Close", "data-testid": "stamp-close", onclick: () => !this.running && this.root.close() }, "×"),
    );
  }

  /** Any change: the verification must be run again before Stamp. */
  private invalidate(): void {
    if (this.running) return;
    this.setHeader(null);
    clear(this.checkArea, h("p", { class: "small muted" }, "Verify first: the schema the revisions imply is built in a scratch database and compared with this one. Nothing is written."));
    clear(this.gateArea);
  }

  private async verify(): Promise<void> {
    const targets = this.targets;
    if (!targets.length) {
      clear(this.checkArea, h("p", { class: "bad" }, "Give at least one revision."));
      return;
    }
    this.verifyButton.disabled = true;
    clear(this.checkArea, h("p", { class: "muted" }, "Building the implied schema in a scratch database…"));
    clear(this.gateArea);
    let check: StampCheck;
    try {
      check = await call(commands.checkStamp(this.connection, this.password, targets, this.purge.checked));
    } catch (e) {
      clear(this.checkArea, errorBox(e));
      return;
    } finally {
      this.verifyButton.disabled = false;
    }
    this.setHeader(check);
    const v = check.verification;
    clear(
      this.checkArea,
      h(
        "p",
        { class: "small" },
        h("span", { class: "muted" }, "Version table now "),
        h("code", null, v.current.join(", ") || "empty"),
        h("span", { class: "muted" }, " → after the stamp "),
        h("code", { "data-testid": "stamp-resulting" }, v.resultingHeads.join(", ") || "empty"),
      ),
      check.matches
        ? h("p", { class: "good", "data-testid": "stamp-verdict", "data-matches": "true" }, "✓ The database's schema matches what these revisions build.")
        : h(
            "div",
            { class: "banner warn", "data-testid": "stamp-verdict", "data-matches": "false" },
            h("strong", { class: "bad" }, `✗ The schema differs from what these revisions build (${count(check.differences.length, "difference")}):`),
            h("ul", { class: "diff", "data-testid": "stamp-diff" }, check.differences.map((d) => h("li", { class: "mono small" }, d))),
          ),
    );
    this.renderGate(check);
  }

  private renderGate(check: StampCheck): void {
    const stamp = h("button", { class: "primary", "data-testid": "stamp-start" }, "Stamp");
    const accept = h("input", { type: "checkbox", "data-testid": "stamp-accept" });
    let typed: HTMLInputElement | null = null;
    const sync = () => {
      stamp.disabled = (!check.matches && !accept.checked) || (check.target.production && typed?.value !== check.target.database);
    };
    const confirm = check.target.production ? typedConfirm(check.target.database, stamp, "stamp-confirm") : null;
    typed = confirm?.querySelector("input") ?? null;
    typed?.addEventListener("input", sync);
    accept.addEventListener("change", sync);
    sync();
    stamp.addEventListener("click", () => void this.stamp(check, accept.checked, typed?.value ?? null));
    clear(
      this.gateArea,
      h(
        "div",
        { class: "op-gate-box" },
        check.matches ? null : h("label", { class: "check" }, accept, " I understand the schema does not match, and stamp anyway"),
        confirm,
        h("div", { class: "buttons" }, stamp),
      ),
    );
  }

  private async stamp(check: StampCheck, acceptMismatch: boolean, typed: string | null): Promise<void> {
    const runId = newRunId();
    this.running = true;
    activeRuns.add(runId);
    for (const b of this.root.querySelectorAll<HTMLButtonElement>("button")) b.disabled = true;
    clear(this.resultArea, h("p", { class: "muted" }, "Stamping…"));
    try {
      const r = await call(
        commands.runOperation({
          runId,
          connection: this.connection,
          password: this.password,
          operation: { command: "stamp", targets: check.verification.targets, purge: this.purge.checked },
          backup: false,
          verifyRestore: false,
          confirmDatabase: typed,
          verifyStamp: true,
          acceptMismatch,
          lockTimeoutSeconds: null,
        }),
      );
      const rep = r.report;
      clear(
        this.resultArea,
        rep.outcome === "completed"
          ? h("p", { class: "good", "data-testid": "stamp-outcome", "data-outcome": "completed" }, `✓ Stamped: the version table is now at ${rep.headsAfter.join(", ") || "base"}.`)
          : h("p", { class: "bad", "data-testid": "stamp-outcome", "data-outcome": rep.outcome }, `✗ ${rep.outcome}: ${rep.failure?.error ?? ""}`),
      );
      void this.app.refreshWorkspace().catch(() => undefined);
    } catch (e) {
      clear(this.resultArea, errorBox(e));
      if (e instanceof CommandError && e.kind === "mismatch") this.resultArea.append(h("p", { class: "small" }, "Verify again, and accept the mismatch to stamp anyway."));
    } finally {
      activeRuns.delete(runId);
      this.running = false;
      for (const b of this.root.querySelectorAll<HTMLButtonElement>("button")) b.disabled = false;
      this.root.querySelector<HTMLButtonElement>('[data-testid="stamp-start"]')?.setAttribute("disabled", "");
    }
  }
}
