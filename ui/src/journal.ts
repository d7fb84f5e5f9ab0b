// The journal: every operation (upgrades, downgrades, stamps, merges, revisions, backups,
// restores) with filters, each run's details (steps with durations and checksums, the error,
// the note) and a link to its backup.
import type { App, Screen } from "./main";
import { call, commands } from "./api";
import { h, clear } from "./dom";
import { Subscriptions } from "./events";
import { ms, when } from "./format";
import type { BackupsScreen } from "./backups";
import type { JournalEntry } from "./bindings";

const KINDS = ["upgrade", "downgrade", "stamp", "merge", "revision", "backup", "restore"];
const OUTCOMES = ["ok", "failed", "cancelled", "running"];

function duration(e: JournalEntry): string {
  if (!e.finishedAt) return "—";
  return ms(new Date(e.finishedAt).getTime() - new Date(e.startedAt).getTime());
}

function outcomeTag(e: JournalEntry): HTMLElement {
  const cls = e.outcome === "ok" ? "good" : e.outcome === "running" && !e.interrupted ? "warn" : "bad";
  return h("span", { class: `tag ${cls}`, "data-outcome": e.outcome }, e.interrupted ? "interrupted" : e.outcome);
}

export class JournalScreen implements Screen {
  readonly root = h("section", { class: "screen manage journal", "aria-label": "Journal" });
  private readonly connection = h("select", { "aria-label": "Connection", "data-testid": "journal-connection" });
  private readonly kind = h("select", { "aria-label": "Kind", "data-testid": "journal-kind" }, h("option", { value: "" }, "every kind"), KINDS.map((k) => h("option", { value: k }, k)));
  private readonly outcome = h("select", { "aria-label": "Outcome", "data-testid": "journal-outcome" }, h("option", { value: "" }, "every outcome"), OUTCOMES.map((k) => h("option", { value: k }, k)));
  private readonly list = h("div", { class: "journal-list", "data-testid": "journal" });
  private readonly detail = h("aside", { class: "journal-detail", "data-testid": "journal-detail", "aria-label": "Run details" });
  private entries: JournalEntry[] = [];
  private selected: number | null = null;
  private readonly events = new Subscriptions();

  constructor(
    private readonly app: App,
    private readonly backups: () => BackupsScreen,
  ) {
    for (const s of [this.connection, this.kind, this.outcome]) s.addEventListener("change", () => void this.refresh());
  }

  async show(): Promise<void> {
    this.events.clear();
    this.events.on("journalChanged", () => void this.refresh());
    clear(
      this.root,
      h(
        "div",
        { class: "screen-head" },
        h("h1", null, "Journal"),
        h("label", { class: "inline-label" }, "Connection ", this.connection),
        h("label", { class: "inline-label" }, "Kind ", this.kind),
        h("label", { class: "inline-label" }, "Outcome ", this.outcome),
        h("button", { onclick: () => void this.refresh() }, "Refresh"),
      ),
      h("div", { class: "journal-body" }, this.list, this.detail),
    );
    if (!this.detail.hasChildNodes()) clear(this.detail, h("p", { class: "muted" }, "Select a run to see its steps."));
    try {
      const views = (await call(commands.listConnections())).connections;
      // Read after the wait: a choice made meanwhile is kept.
      const keep = this.connection.value;
      clear(this.connection, h("option", { value: "" }, "every connection"), views.map((v) => h("option", { value: v.name }, v.name)));
      this.connection.value = keep;
    } catch (e) {
      this.app.error(e);
    }
    await this.refresh();
  }

  hide(): void {
    this.events.clear();
  }

  /** Bumped by every refresh: an answer to an older one (other filters) is dropped. */
  private refreshes = 0;

  private async refresh(): Promise<void> {
    const mine = ++this.refreshes;
    try {
      const entries = await call(
        commands.journalEntries({ connection: this.connection.value || null, kind: this.kind.value || null, outcome: this.outcome.value || null, limit: 500 }),
      );
      if (mine !== this.refreshes) return;
      this.entries = entries;
    } catch (e) {
      this.app.error(e);
      return;
    }
    if (!this.entries.length) {
      clear(this.list, h("p", { class: "muted", "data-testid": "journal-empty" }, "No operations match."));
      return;
    }
    const rows = this.entries.map((e) =>
      h(
        "tr",
        { "data-entry": String(e.id), "data-kind": e.kind, class: e.id === this.selected ? "selected" : "", tabindex: "0", onclick: () => this.select(e), onkeydown: (k: KeyboardEvent) => k.key === "Enter" && this.select(e) },
        h("td", { class: "mono" }, `#${e.id}`),
        h("td", null, when(e.startedAt)),
        h("td", null, h("strong", null, e.kind)),
        h("td", null, e.connection ? e.connection.name ?? h("span", { class: "muted small" }, e.connection.location) : h("span", { class: "muted" }, "—")),
        h("td", { class: "mono small" }, e.fromRevisions.join(", ") || "∅", " → ", e.toRevisions.join(", ") || (e.target ?? "∅")),
        h("td", null, outcomeTag(e)),
        h("td", { class: "small" }, duration(e)),
        h("td", { class: "small muted" }, `${e.osUser}@${e.hostname}`),
      ),
    );
    clear(
      this.list,
      h(
        "table",
        { class: "table journal-table" },
        h("thead", null, h("tr", null, ["", "Started", "Kind", "Connection", "Revisions", "Outcome", "Took", "By"].map((t) => h("th", null, t)))),
        h("tbody", null, rows),
      ),
    );
    const still = this.entries.find((e) => e.id === this.selected);
    if (still) this.renderDetail(still);
  }

  private select(e: JournalEntry): void {
    this.selected = e.id;
    for (const tr of this.list.querySelectorAll<HTMLElement>("tr[data-entry]")) tr.classList.toggle("selected", tr.dataset.entry === String(e.id));
    this.renderDetail(e);
  }

  private renderDetail(e: JournalEntry): void {
    clear(
      this.detail,
      h("h2", null, `#${e.id} ${e.kind} `, outcomeTag(e)),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Connection"),
        h("dd", null, e.connection ? `${e.connection.name ?? "(URL)"} — ${e.connection.url}${e.connection.environment ? ` (${e.connection.environment})` : ""}` : "—"),
        h("dt", null, "Target"),
        h("dd", { class: "mono" }, e.target ?? "—"),
        h("dt", null, "From"),
        h("dd", { class: "mono" }, e.fromRevisions.join(", ") || "∅"),
        h("dt", null, "To"),
        h("dd", { class: "mono" }, e.toRevisions.join(", ") || "∅"),
        h("dt", null, "Started"),
        h("dd", null, when(e.startedAt)),
        h("dt", null, "Finished"),
        h("dd", null, when(e.finishedAt), e.finishedAt ? ` (${duration(e)})` : ""),
        h("dt", null, "By"),
        h("dd", null, `${e.osUser}@${e.hostname} (pid ${e.pid})`),
        e.workspaceDir ? [h("dt", null, "Project"), h("dd", { class: "mono small" }, e.workspaceDir)] : null,
        e.backupId !== null
          ? [
              h("dt", null, "Backup"),
              h("dd", null, h("button", { class: "link", "data-testid": "journal-backup-link", onclick: () => void this.backups().showBackup(e.backupId!) }, `backup #${e.backupId}`)),
            ]
          : null,
      ),
      e.error ? h("div", { class: "report failed card", "data-testid": "journal-error" }, h("strong", { class: "bad" }, e.failedStep !== null ? `Step ${e.failedStep + 1} failed: ` : "Error: "), e.error) : null,
      e.note ? h("p", { class: "banner", "data-testid": "journal-note" }, h("strong", null, "Note: "), e.note) : null,
      h("h3", null, `Steps (${e.steps.length})`),
      e.steps.length
        ? h(
            "table",
            { class: "table steps", "data-testid": "journal-steps" },
            h("thead", null, h("tr", null, ["", "Revision", "Step", "File", "SHA-256", "Took"].map((t) => h("th", null, t)))),
            h(
              "tbody",
              null,
              e.steps.map((s, i) =>
                h(
                  "tr",
                  { class: s.ok ? "" : "failed" },
                  h("td", { class: s.ok ? "good" : "bad" }, s.ok ? "✓" : i === e.failedStep ? "✗" : "·"),
                  h("td", { class: "mono" }, s.revision ?? "—"),
                  h("td", { class: "small" }, s.description),
                  h(
                    "td",
                    { class: "small" },
                    s.filePath ? h("button", { class: "link mono", onclick: () => void this.app.source.open(s.filePath!, null) }, s.filePath.split(/[\\/]/).pop()) : "—",
                  ),
                  h("td", { class: "mono small", title: s.fileSha256 ?? "" }, s.fileSha256 ? `${s.fileSha256.slice(0, 12)}…` : "—"),
                  h("td", { class: "small" }, ms(s.durationMs)),
                ),
              ),
            ),
          )
        : h("p", { class: "muted small" }, "No revision steps."),
    );
  }
}
