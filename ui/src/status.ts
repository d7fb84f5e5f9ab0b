// Status board: every bound connection with its standing (up to date, behind by N, ahead or
// on an unknown revision, unreachable, password needed), coloured by environment; refreshed
// on demand and after each run.
import type { App, Screen } from "./main";
import { call, commands } from "./api";
import { h, clear } from "./dom";
import type { Standing, StatusRow } from "./bindings";
import { openRunDialog } from "./runs";
import { Subscriptions } from "./events";

const WORDS: Record<Standing, string> = {
  upToDate: "up to date",
  behind: "behind",
  unknown: "ahead or unknown revision",
  empty: "empty (nothing applied)",
  unreachable: "unreachable",
  passwordNeeded: "password needed",
};

export class StatusScreen implements Screen {
  readonly root = h("section", { class: "screen status-board", "aria-label": "Status board" });
  private readonly body = h("div", { "data-testid": "status-board" });
  private readonly stamp = h("span", { class: "small muted", "data-testid": "status-updated" });
  private readonly events = new Subscriptions();
  private loading = false;

  constructor(private readonly app: App) {}

  async show(): Promise<void> {
    this.events.clear();
    this.events.on("journalChanged", () => void this.refresh());
    clear(
      this.root,
      h(
        "div",
        { class: "screen-head" },
        h("h1", null, "Status board"),
        h("button", { "data-testid": "status-refresh", onclick: () => void this.refresh() }, "Refresh"),
        this.stamp,
      ),
      this.body,
    );
    if (!this.app.workspace) {
      clear(this.body, h("p", { class: "muted" }, "Open a workspace first."));
      return;
    }
    await this.refresh();
  }

  hide(): void {
    this.events.clear();
  }

  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    this.body.setAttribute("aria-busy", "true");
    try {
      const rows = await call(commands.statusBoard());
      this.render(rows);
      this.stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      this.app.error(e);
    } finally {
      this.loading = false;
      this.body.removeAttribute("aria-busy");
    }
  }

  private render(rows: StatusRow[]): void {
    if (!rows.length) {
      clear(this.body, h("p", { class: "muted" }, "No connection is bound to this project: add one on the Connections screen."));
      return;
    }
    clear(
      this.body,
      h(
        "div",
        { class: "board" },
        rows.map((r) => {
          const standing = r.standing === "behind" ? `behind by ${r.behindBy}` : WORDS[r.standing];
          const rowsNow = r.status?.version?.rows;
          return h(
            "div",
            { class: `board-card standing-${r.standing}`, style: { borderColor: r.color }, "data-connection": r.name, "data-standing": r.standing },
            h("div", { class: "board-head", style: { background: r.color } }, h("strong", null, r.name), h("span", null, r.environment)),
            h("p", { class: "board-standing", "data-testid": "standing" }, standing),
            h("p", { class: "small" }, r.summary),
            rowsNow && rowsNow.length ? h("p", { class: "small muted mono" }, rowsNow.join(", ")) : null,
            r.standing === "behind" || r.standing === "empty"
              ? h("button", { "data-testid": `status-upgrade-${r.name}`, onclick: () => openRunDialog(this.app, { command: "upgrade", target: "heads", connection: r.name }) }, "Upgrade…")
              : null,
          );
        }),
      ),
    );
  }
}
