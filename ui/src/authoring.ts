// Authoring: a new revision (message, parent head, branch label, depends_on, the naming hint
// live, the file written and shown) and merging heads (the guided explanation, the message,
// the file; the graph then shows and selects the merge). And the checks: the project checks
// by level, with file:line, and the round-trip test on a scratch database with progress.
import type { App, Screen } from "./main";
import type { GraphScreen } from "./graph";
import { call, commands } from "./api";
import { h, clear } from "./dom";
import { renderSource } from "./source";
import { ConnectionPicker } from "./backups";
import { AutogenerateCard } from "./autogenerate";
import { newRunId, RunProgress } from "./events";
import { errorText } from "./format";
import type { CheckReport, MergeExplanation, RevisionInput, RevisionPreview, RoundTripEvent, RoundTripReport } from "./bindings";

const language = (path: string) => (path.endsWith(".py") ? "python" : path.endsWith(".sql") ? "sql" : "text");

/** The written (or previewed) file: its path and text. */
function fileCard(p: RevisionPreview, testid: string): HTMLElement {
  const r = p.revision;
  return h(
    "div",
    { class: `card${p.written ? " report ok" : ""}`, "data-testid": testid },
    h("p", null, p.written ? h("strong", { class: "good" }, "✓ Written: ") : h("strong", null, "Will write: "), h("code", { "data-testid": "revision-path" }, r.path)),
    h("p", { class: "small muted" }, `revision ${r.revision}, parent ${r.downRevision.join(", ") || "none (base)"}`),
    r.warnings.map((w) => h("p", { class: "banner warn small" }, w)),
    p.written ? renderSource({ path: r.path, language: language(r.path), text: r.text }) : null,
  );
}

export class AuthoringScreen implements Screen {
  readonly root = h("section", { class: "screen manage authoring", "aria-label": "Authoring" });
  // New revision
  private readonly message = h("input", { name: "message", placeholder: "add_rating_to_reviews", "aria-label": "Message", "data-testid": "revision-message", autocomplete: "off" });
  private readonly parent = h("select", { name: "head", "aria-label": "Parent head", "data-testid": "revision-parent" });
  private readonly label = h("input", { name: "branchLabel", placeholder: "optional", "aria-label": "Branch label", "data-testid": "revision-label", autocomplete: "off" });
  private readonly depends = h("input", { name: "dependsOn", placeholder: "revision ids, comma separated", "aria-label": "Depends on", "data-testid": "revision-depends", autocomplete: "off" });
  private readonly hint = h("div", { class: "naming", "aria-live": "polite", "data-testid": "naming-hint" });
  private readonly revResult = h("div");
  private previewTimer = 0;
  private previewSeq = 0;
  // Merge
  private readonly heads = h("div", { class: "head-picks", "data-testid": "merge-heads" });
  private readonly mergeMessage = h("input", { name: "mergeMessage", placeholder: "merge heads", "aria-label": "Merge message", "data-testid": "merge-message", autocomplete: "off" });
  private readonly explanation = h("div", { "data-testid": "merge-explanation" });
  private readonly mergeResult = h("div");
  private picked: string[] | null = null;

  private readonly autogenerate: AutogenerateCard;

  constructor(private readonly app: App) {
    this.autogenerate = new AutogenerateCard(app);
    for (const el of [this.message, this.label, this.depends]) el.addEventListener("input", () => this.schedulePreview());
    this.parent.addEventListener("change", () => this.schedulePreview());
  }

  /** Opens the screen with these heads checked for merging (empty: all). */
  async merge(heads: string[]): Promise<void> {
    this.picked = heads;
    await this.app.go("authoring");
    this.root.querySelector("#merge-card")?.scrollIntoView({ block: "start" });
    await this.explain();
  }

  /** Opens the screen with a parent preselected. */
  async newRevision(parent: string | null): Promise<void> {
    await this.app.go("authoring");
    if (parent && [...this.parent.options].some((o) => o.value === parent)) this.parent.value = parent;
    this.message.focus();
  }

  async show(): Promise<void> {
    const ws = this.app.workspace;
    if (!ws || !ws.graphAvailable) {
      clear(this.root, h("h1", null, "Authoring"), h("p", { class: "muted" }, ws ? "The project has problems: see the workspace." : "Open a workspace first."));
      return;
    }
    const keepParent = this.parent.value;
    clear(
      this.parent,
      ws.heads.length > 1 ? null : h("option", { value: "head" }, "head (the only head)"),
      ws.heads.map((id) => h("option", { value: id }, id)),
      h("option", { value: "base" }, "base (a new root)"),
    );
    if ([...this.parent.options].some((o) => o.value === keepParent)) this.parent.value = keepParent;
    const picked = new Set(this.picked && this.picked.length ? this.picked : ws.heads);
    clear(
      this.heads,
      ws.heads.map((id) =>
        h("label", { class: "head-pick" }, h("input", { type: "checkbox", value: id, checked: picked.has(id), onchange: () => void this.explain() }), " ", h("code", null, id)),
      ),
    );
    const revForm = h(
      "form",
      { class: "card conn-form", id: "revision-card", "data-testid": "revision-form", onsubmit: (e: Event) => (e.preventDefault(), void this.writeRevision()) },
      h("h2", null, "New revision"),
      h("div", { class: "field" }, h("label", null, "Message"), this.message),
      h("div", { class: "field" }, h("label", null, "Parent"), this.parent),
      h("div", { class: "field" }, h("label", null, "Branch label"), this.label),
      h("div", { class: "field" }, h("label", null, "Depends on"), this.depends),
      this.hint,
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", "data-testid": "revision-write" }, "Write the revision")),
      this.revResult,
    );
    const mergeCard = h(
      "div",
      { class: "card", id: "merge-card", "data-testid": "merge-card" },
      h("h2", null, "Merge heads"),
      ws.heads.length < 2
        ? h("p", { class: "muted", "data-testid": "single-head" }, `The project has a single head (${ws.heads.join(", ") || "none"}): nothing to merge.`)
        : [
            h("p", { class: "small muted" }, "Choose two or more heads (or Ctrl+click heads on the graph)."),
            this.heads,
            h(
              "div",
              { class: "buttons" },
              h("button", { "data-testid": "merge-all", onclick: () => this.checkAll() }, "Merge all heads"),
              h("button", { onclick: () => void this.explain() }, "Explain"),
            ),
            this.explanation,
            h(
              "form",
              { class: "inline", onsubmit: (e: Event) => (e.preventDefault(), void this.writeMerge()) },
              h("label", { class: "inline-label" }, "Message ", this.mergeMessage),
              h("button", { type: "submit", class: "primary", "data-testid": "merge-write" }, "Write the merge"),
            ),
          ],
      this.mergeResult,
    );
    clear(this.root, h("div", { class: "screen-head" }, h("h1", null, "Authoring")), h("div", { class: "split" }, revForm, mergeCard), this.autogenerate.root);
    await this.autogenerate.show();
    this.schedulePreview();
    if (ws.heads.length >= 2 && !this.explanation.hasChildNodes()) await this.explain();
  }

  private checkAll(): void {
    for (const box of this.heads.querySelectorAll<HTMLInputElement>("input[type=checkbox]")) box.checked = true;
    void this.explain();
  }

  private chosenHeads(): string[] {
    return [...this.heads.querySelectorAll<HTMLInputElement>("input[type=checkbox]")].filter((b) => b.checked).map((b) => b.value);
  }

  // ----- new revision -------------------------------------------------------------------

  private input(): RevisionInput {
    return {
      message: this.message.value.trim(),
      head: this.parent.value || null,
      branchLabel: this.label.value.trim() || null,
      dependsOn: this.depends.value.split(/[\s,]+/).filter(Boolean),
    };
  }

  private schedulePreview(): void {
    window.clearTimeout(this.previewTimer);
    this.previewTimer = window.setTimeout(() => void this.preview(), 250);
  }

  private async preview(): Promise<void> {
    const seq = ++this.previewSeq;
    if (!this.message.value.trim()) {
      clear(this.hint, h("p", { class: "small muted" }, "Type a message: the file name and the project's naming advice show here."));
      return;
    }
    try {
      const p = await call(commands.previewRevision(this.input()));
      if (seq !== this.previewSeq) return;
      clear(
        this.hint,
        h("p", { class: "small" }, "File: ", h("code", { "data-testid": "preview-path" }, p.revision.path)),
        p.naming.length
          ? h("ul", { class: "naming-list" }, p.naming.map((n) => h("li", { class: "banner warn small", "data-testid": "naming-advice" }, n)))
          : h("p", { class: "small good", "data-testid": "naming-ok" }, "✓ The message follows the project's naming conventions."),
        p.revision.warnings.map((w) => h("p", { class: "banner warn small" }, w)),
      );
    } catch (e) {
      if (seq !== this.previewSeq) return;
      clear(this.hint, h("p", { class: "small bad", "data-testid": "preview-error" }, errorText(e)));
    }
  }

  private async writeRevision(): Promise<void> {
    if (!this.message.value.trim()) {
      clear(this.revResult, h("p", { class: "bad" }, "A message is needed."));
      return;
    }
    try {
      const p = await call(commands.createRevision(this.input()));
      clear(this.revResult, fileCard(p, "revision-written"));
      this.app.say(`Revision ${p.revision.revision} written to ${p.revision.path}.`);
      this.message.value = "";
      this.label.value = "";
      this.depends.value = "";
      await this.reloadWorkspace();
    } catch (e) {
      clear(this.revResult, h("p", { class: "report failed bad card" }, errorText(e)));
    }
  }

  /** The workspace was re-read by the backend: take its new heads (the screen stays). */
  private async reloadWorkspace(): Promise<void> {
    try {
      this.app.setWorkspace(await call(commands.currentWorkspace()));
    } catch (e) {
      this.app.error(e);
    }
    const result = [this.revResult.firstChild, this.mergeResult.firstChild];
    this.explanation.replaceChildren();
    await this.show();
    if (result[0]) this.revResult.replaceChildren(result[0]);
  }

  // ----- merge --------------------------------------------------------------------------

  private async explain(): Promise<void> {
    const heads = this.chosenHeads();
    if (heads.length < 2) {
      clear(this.explanation, h("p", { class: "muted small" }, "Choose at least two heads."));
      return;
    }
    try {
      const x = await call(commands.explainMerge(heads));
      this.renderExplanation(x);
    } catch (e) {
      clear(this.explanation, h("p", { class: "bad" }, errorText(e)));
    }
  }

  private renderExplanation(x: MergeExplanation): void {
    const rev = (id: string, doc?: string) => [h("code", null, id), doc ? h("span", { class: "muted" }, ` ${doc}`) : null];
    clear(
      this.explanation,
      h("h3", null, "Common ancestor"),
      h(
        "p",
        { "data-testid": "merge-ancestor" },
        x.commonAncestors.length ? x.commonAncestors.map((a, i) => [i ? ", " : "", rev(a.revision, a.doc)]) : h("em", null, "none: the branches share no history"),
      ),
      h("h3", null, "Branches"),
      h(
        "div",
        { class: "branches", "data-testid": "merge-branches" },
        x.branches.map((b) =>
          h(
            "div",
            { class: "branch-col" },
            h("p", null, h("strong", null, "→ "), rev(b.head.revision, b.head.doc)),
            h("ol", { class: "small" }, b.revisions.map((r) => h("li", null, rev(r.revision, r.doc)))),
            h(
              "p",
              { class: "small muted" },
              "Tables: ",
              Object.keys(b.tables).length ? Object.entries(b.tables).map(([t, a], i) => [i ? ", " : "", h("code", null, t), ` (${(a ?? []).join("/")})`]) : "none",
            ),
          ),
        ),
      ),
      h("h3", null, "Tables touched on both sides"),
      x.sharedTables.length
        ? h("ul", { "data-testid": "merge-shared" }, x.sharedTables.map((t) => h("li", { class: "banner warn small" }, h("code", null, t.table), ` — ${t.message}`)))
        : h("p", { class: "small good", "data-testid": "merge-shared" }, "✓ No table is touched on both sides."),
      // The shared tables are listed above; the other warnings here.
      x.warnings.filter((w) => !x.sharedTables.some((t) => t.message === w)).map((w) => h("p", { class: "banner warn small" }, w)),
      h("h3", null, "Resulting order (upgrade from empty)"),
      h(
        "ol",
        { class: "order mono small", "data-testid": "merge-order" },
        x.upgradeOrder.map((id) => h("li", { class: id === x.mergeRevision ? "merge-step" : "" }, id === x.mergeRevision ? `${id} (the merge)` : id)),
      ),
    );
  }

  private async writeMerge(): Promise<void> {
    const heads = this.chosenHeads();
    if (heads.length < 2) {
      clear(this.mergeResult, h("p", { class: "bad" }, "Choose at least two heads."));
      return;
    }
    try {
      const p = await call(commands.createMerge(heads, this.mergeMessage.value));
      this.picked = null;
      this.mergeMessage.value = "";
      this.app.say(`Merge ${p.revision.revision} written to ${p.revision.path}.`);
      this.app.setWorkspace(await call(commands.currentWorkspace()));
      this.explanation.replaceChildren();
      // The graph with the new merge selected.
      await this.app.go("graph");
      this.app.screen<GraphScreen>("graph").selectId(p.revision.revision);
    } catch (e) {
      clear(this.mergeResult, h("p", { class: "report failed bad card" }, errorText(e)));
    }
  }
}

// ----- checks ---------------------------------------------------------------------------

export class ChecksScreen implements Screen {
  readonly root = h("section", { class: "screen manage checks-screen", "aria-label": "Checks" });
  private readonly picker: ConnectionPicker;
  private readonly runProgress = new RunProgress();
  private readonly findings = h("div", { "data-testid": "findings" });
  private readonly rtButton = h("button", { class: "primary", "data-testid": "round-trip", onclick: () => void this.roundTrip() }, "Run the round trip");
  private readonly rtCancel = h("button", { hidden: true, onclick: () => void this.cancel() }, "Cancel");
  private readonly rtBar = h("progress", { max: "1" });
  private readonly rtLine = h("span", { class: "small", "data-testid": "round-trip-line" });
  private readonly rtLog = h("ol", { class: "progress-log small muted", "data-testid": "round-trip-log" });
  private readonly rtResult = h("div");
  private running: string | null = null;

  constructor(private readonly app: App) {
    this.picker = new ConnectionPicker(app);
  }

  async show(): Promise<void> {
    if (!this.app.workspace?.graphAvailable) {
      clear(this.root, h("h1", null, "Checks"), h("p", { class: "muted" }, "Open a workspace whose graph can be built first."));
      return;
    }
    clear(
      this.root,
      h(
        "div",
        { class: "screen-head" },
        h("h1", null, "Checks"),
        h("label", { class: "inline-label" }, "Connection ", this.picker.root),
        h("button", { "data-testid": "run-checks", onclick: () => void this.check() }, "Run the checks"),
      ),
      h("div", { class: "card" }, h("h2", null, "Project checks"), this.findings),
      h(
        "div",
        { class: "card" },
        h("h2", null, "Round trip"),
        h("p", { class: "small muted" }, "Every revision goes up, down and up again in a scratch database on the connection's server; the schema must come back each time."),
        h("div", { class: "buttons" }, this.rtButton, this.rtCancel),
        h("div", { class: "progress-row" }, this.rtBar, this.rtLine),
        this.rtLog,
        this.rtResult,
      ),
    );
    await this.picker.load();
    await this.check();
  }

  private async check(): Promise<void> {
    clear(this.findings, h("p", { class: "muted" }, "Checking…"));
    let report: CheckReport;
    try {
      report = await call(commands.projectChecks(this.picker.value, this.picker.pass));
    } catch (e) {
      clear(this.findings, h("p", { class: "bad" }, errorText(e)));
      return;
    }
    const levels = [
      ["error", "Errors", "bad"],
      ["warning", "Warnings", "warn"],
      ["hint", "Hints", "muted"],
    ] as const;
    const groups = levels
      .map(([level, title, cls]) => {
        const items = report.findings.filter((f) => f.level === level);
        if (!items.length) return null;
        return h(
          "div",
          { class: `finding-group ${level}`, "data-level": level },
          h("h3", { class: cls }, `${title} (${items.length})`),
          h(
            "ul",
            { class: "problems" },
            items.map((f) =>
              h(
                "li",
                { class: "problem", "data-check": f.check },
                h("span", { class: `tag ${cls}` }, f.check),
                " ",
                f.message,
                f.path
                  ? [" ", h("button", { class: "link mono small", onclick: () => void this.app.source.open(f.path!, f.line ?? null) }, f.line ? `${f.path}:${f.line}` : f.path)]
                  : null,
                f.suggestion ? h("div", { class: "small muted" }, `→ ${f.suggestion}`) : null,
              ),
            ),
          ),
        );
      })
      .filter(Boolean);
    clear(
      this.findings,
      h("p", { class: "small muted" }, `Heads: ${report.heads.join(", ") || "none"}${report.namingConventions ? " · naming conventions configured" : ""}`),
      groups.length ? groups : h("p", { class: "good", "data-testid": "no-findings" }, "✓ No findings."),
    );
  }

  private progress(p: RoundTripEvent): void {
    const total = (p as any).total as number | null | undefined;
    switch (p.event) {
      case "started":
        this.rtLine.textContent = `scratch database ${p.scratch}: ${p.total ?? "?"} revisions`;
        this.rtLog.append(h("li", null, this.rtLine.textContent));
        if (total) this.rtBar.max = total;
        this.rtBar.value = 0;
        break;
      case "checking":
        this.rtLine.textContent = `checking ${(p.index ?? 0) + 1}/${p.total ?? "?"}: ${p.revision} ${p.description}`;
        if (p.total) this.rtBar.max = p.total;
        break;
      case "passed":
        this.rtBar.value = (p.index ?? 0) + 1;
        this.rtLog.append(h("li", { "data-passed": p.revision }, `✓ ${p.revision}`));
        break;
      case "output":
        this.rtLog.append(h("li", { class: "mono" }, p.line));
        break;
    }
  }

  private async roundTrip(): Promise<void> {
    const id = newRunId();
    this.running = id;
    // For the whole run and after it, even while another screen is shown.
    this.runProgress.follow("roundTripProgress", id, (event) => this.progress(event.progress));
    this.rtButton.disabled = true;
    this.rtCancel.hidden = false;
    this.rtBar.removeAttribute("value");
    this.rtLine.textContent = `starting on ${this.picker.label}…`;
    clear(this.rtLog);
    clear(this.rtResult);
    let report: RoundTripReport | null = null;
    try {
      report = await call(commands.roundTripTest(id, this.picker.value, this.picker.pass));
    } catch (e) {
      clear(this.rtResult, h("div", { class: "report failed card bad", "data-testid": "round-trip-result" }, `✗ ${errorText(e)}`));
    } finally {
      this.running = null;
      this.rtButton.disabled = false;
      this.rtCancel.hidden = true;
    }
    if (!report) return;
    const ok = report.outcome === "completed";
    this.rtBar.max = 1;
    this.rtBar.value = ok ? 1 : this.rtBar.value;
    this.rtLine.textContent = ok ? "done" : report.outcome;
    const f = report.failure;
    clear(
      this.rtResult,
      h(
        "div",
        { class: `card report ${ok ? "ok" : "failed"}`, "data-testid": "round-trip-result", "data-outcome": report.outcome },
        ok
          ? h("strong", { class: "good" }, `✓ Round trip passed: ${report.passed.length} of ${report.total ?? report.passed.length} revisions`)
          : h("strong", { class: "bad" }, `✗ Round trip ${report.outcome} after ${report.passed.length} revisions`),
        h("div", { class: "small muted" }, `Scratch database: ${report.scratch} (removed)`),
        f
          ? h(
              "div",
              { class: "failure" },
              h("p", null, h("code", null, f.revision), ` failed in the ${f.phase}: ${f.description}`),
              h("pre", { class: "longdoc" }, JSON.stringify(f.problem, null, 2)),
              f.path ? h("button", { class: "link mono", onclick: () => void this.app.source.open(f.path!, null) }, f.path) : null,
            )
          : null,
      ),
    );
  }

  private async cancel(): Promise<void> {
    if (this.running) await call(commands.cancelRun(this.running)).catch((e) => this.app.error(e));
  }
}
