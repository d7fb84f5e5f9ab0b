// Retort's UI: the workspace, connections and history-graph screens, one page.
import "./style.css";
import { installTransport } from "./transport";
import { on } from "./events";
import { call, commands, CommandError } from "./api";
import type { AppInfo, WorkspaceView } from "./bindings";
import { h, clear } from "./dom";
import { WorkspaceScreen } from "./workspace";
import { ConnectionsScreen } from "./connections";
import { GraphScreen } from "./graph";
import { SourceViewer } from "./source";
import { AuthoringScreen, ChecksScreen } from "./authoring";
import { BackupsScreen } from "./backups";
import { JournalScreen } from "./journal";
import { StatusScreen } from "./status";
import "./stamp";

installTransport();

export type ScreenName = "workspace" | "connections" | "graph" | "status" | "authoring" | "checks" | "backups" | "journal";

export interface Screen {
  readonly root: HTMLElement;
  show(): void | Promise<void>;
  /** Ends what `show` started, such as its event subscriptions. */
  hide?(): void;
}

export class App {
  info!: AppInfo;
  workspace: WorkspaceView | null = null;
  readonly main = h("main", { id: "main", tabindex: "-1" });
  readonly status = h("div", { class: "status", role: "status", "aria-live": "polite" });
  readonly source = new SourceViewer(this);
  private readonly tabs = new Map<ScreenName, HTMLButtonElement>();
  private readonly screens: Record<ScreenName, Screen>;
  private current: ScreenName = "workspace";
  private readonly title = h("span", { class: "ws-title", "data-testid": "workspace-title" });
  readonly authoring = new AuthoringScreen(this);
  readonly backups = new BackupsScreen(this);

  constructor(private readonly rootEl: HTMLElement) {
    this.screens = {
      workspace: new WorkspaceScreen(this),
      connections: new ConnectionsScreen(this),
      graph: new GraphScreen(this),
      status: new StatusScreen(this),
      authoring: this.authoring,
      checks: new ChecksScreen(this),
      backups: this.backups,
      journal: new JournalScreen(this, () => this.backups),
    };
  }

  async start(): Promise<void> {
    const nav = h("nav", { class: "tabs", role: "tablist", "aria-label": "Screens" });
    const labels: [ScreenName, string, string][] = [
      ["workspace", "Workspace", "1"],
      ["connections", "Connections", "2"],
      ["graph", "History graph", "3"],
      ["status", "Status", "4"],
      ["authoring", "Authoring", "5"],
      ["checks", "Checks", "6"],
      ["backups", "Backups", "7"],
      ["journal", "Journal", "8"],
    ];
    for (const [name, label, key] of labels) {
      const b = h(
        "button",
        { role: "tab", id: `tab-${name}`, "aria-controls": "main", title: `${label} (Alt+${key})`, onclick: () => this.go(name) },
        label,
      );
      this.tabs.set(name, b);
      nav.append(b);
    }
    nav.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const order = labels.map((l) => l[0]);
      const i = order.indexOf(this.current) + (e.key === "ArrowRight" ? 1 : -1);
      const next = order[(i + order.length) % order.length];
      void this.go(next);
      this.tabs.get(next)?.focus();
    });
    clear(
      this.rootEl,
      h("header", { class: "topbar" }, h("span", { class: "brand" }, "⚗ Retort"), this.title, nav),
      this.main,
      this.status,
      this.source.root,
    );
    document.addEventListener("keydown", (e) => {
      const hit = labels.find((l) => l[2] === e.key);
      if (e.altKey && hit) {
        e.preventDefault();
        void this.go(hit[0]);
      }
    });
    on("workspaceOpened", (event) => {
      if (event.path !== this.workspace?.path) void this.refreshWorkspace();
    });
    try {
      this.info = await call(commands.appInfo());
      this.setWorkspace(await call(commands.currentWorkspace()));
    } catch (e) {
      this.error(e);
    }
    await this.go(this.workspace?.graphAvailable ? "graph" : "workspace");
  }

  /** A screen, for the screens that open another on something (a node, a backup). */
  screen<T extends Screen>(name: ScreenName): T {
    return this.screens[name] as T;
  }

  async refreshWorkspace(): Promise<void> {
    this.setWorkspace(await call(commands.currentWorkspace()));
    await this.screens[this.current].show();
  }

  setWorkspace(ws: WorkspaceView | null): void {
    this.workspace = ws;
    this.title.textContent = ws ? `${ws.name}` : "no workspace";
    this.title.title = ws?.path ?? "";
    document.title = ws ? `${ws.name} — Retort` : "Retort";
  }

  async go(name: ScreenName): Promise<void> {
    this.screens[this.current].hide?.();
    this.current = name;
    for (const [n, b] of this.tabs) {
      b.setAttribute("aria-selected", String(n === name));
      b.tabIndex = n === name ? 0 : -1;
    }
    clear(this.main, this.screens[name].root);
    this.main.dataset.screen = name;
    await this.screens[name].show();
  }

  say(text: string): void {
    this.status.textContent = text;
    this.status.className = "status";
  }

  error(e: unknown): void {
    const err = e instanceof CommandError ? e.error : { message: String((e as any)?.message ?? e), hint: null };
    clear(this.status, h("strong", null, "Error: "), err.message, err.hint ? h("span", { class: "hint" }, ` — ${err.hint}`) : null);
    this.status.className = "status error";
  }
}

const app = new App(document.getElementById("app")!);
(window as any).__retort = app;
void app.start();
