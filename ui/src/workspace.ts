// Workspace: open a migration project folder (or a recent one); its kind and problems.
import type { App, Screen } from "./main";
import { call, commands } from "./api";
import { h, clear } from "./dom";

export class WorkspaceScreen implements Screen {
  readonly root = h("section", { class: "screen workspace", "aria-label": "Workspace" });
  private readonly pathInput = h("input", {
    type: "text",
    id: "project-path",
    placeholder: "/path/to/project (folder with alembic.ini, pyproject.toml or retort.toml)",
    "aria-label": "Project folder",
    spellcheck: "false",
  });

  constructor(private readonly app: App) {
    this.pathInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") void this.open(this.pathInput.value);
    });
  }

  async show(): Promise<void> {
    const ws = this.app.workspace;
    const recent = await call(commands.recentWorkspaces()).catch((e) => {
      this.app.error(e);
      return [];
    });
    const openBar = h(
      "div",
      { class: "open-bar" },
      h("button", { class: "primary", onclick: () => this.choose(), "data-testid": "choose-project" }, "Open project folder…"),
      this.pathInput,
      h("button", { onclick: () => this.open(this.pathInput.value), "data-testid": "open-path" }, "Open"),
    );
    const recentList = h(
      "ul",
      { class: "recent", "aria-label": "Recent workspaces" },
      recent.length === 0 ? h("li", { class: "muted" }, "No workspace opened yet.") : null,
      recent.map((r) =>
        h(
          "li",
          null,
          h(
            "button",
            { class: "link", disabled: !r.exists, onclick: () => this.open(r.path), title: r.path },
            h("strong", null, r.name),
            " ",
            h("span", { class: "muted" }, r.path),
          ),
          r.connections.length ? h("span", { class: "muted small" }, ` · ${r.connections.join(", ")}`) : null,
          r.exists ? null : h("span", { class: "tag warn" }, "missing"),
        ),
      ),
    );
    clear(
      this.root,
      h("h1", null, "Workspace"),
      openBar,
      ws ? this.summary() : h("p", { class: "muted" }, "Open a migration project to see its revisions and connections."),
      h("h2", null, "Recent"),
      recentList,
    );
  }

  private summary(): HTMLElement {
    const ws = this.app.workspace!;
    const errors = ws.problems.filter((p) => p.error).length;
    const problems = h(
      "ul",
      { class: "problems", "data-testid": "problems" },
      ws.problems.map((p) =>
        h(
          "li",
          { class: p.error ? "problem error" : "problem warning" },
          h("span", { class: `tag ${p.error ? "bad" : "warn"}` }, KIND_WORDS[p.kind] ?? p.kind),
          " ",
          p.path
            ? h(
                "button",
                { class: "link mono", onclick: () => this.app.source.open(p.path!, p.line ?? null) },
                `${shortPath(p.path, ws.path)}${p.line ? `:${p.line}` : ""}`,
              )
            : null,
          " ",
          h("span", null, p.message),
        ),
      ),
    );
    return h(
      "div",
      { class: "card ws-card", "data-testid": "workspace-card" },
      h("h2", null, ws.name, " ", ws.kind ? h("span", { class: "tag", "data-testid": "project-kind" }, ws.kind === "alembic" ? "Alembic project" : "Native SQL project") : null),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Folder"),
        h("dd", { class: "mono" }, ws.path),
        h("dt", null, "Configuration"),
        h("dd", { class: "mono" }, ws.configPath ?? "—"),
        h("dt", null, "Revisions"),
        h("dd", null, String(ws.revisionCount)),
        h("dt", null, "Heads"),
        h("dd", { class: "mono" }, ws.heads.join(", ") || "—"),
        h("dt", null, "Database (project)"),
        h("dd", { class: "mono" }, ws.projectUrl ?? "—"),
        h("dt", null, "Bound connections"),
        h("dd", null, ws.connections.join(", ") || "none (bind one on the Connections screen)"),
      ),
      h("h3", null, ws.problems.length === 0 ? "No problems" : `Problems: ${errors} error(s), ${ws.problems.length - errors} warning(s)`),
      problems,
      ws.graphAvailable ? h("button", { class: "primary", onclick: () => this.app.go("graph") }, "Show the history graph") : null,
    );
  }

  private async choose(): Promise<void> {
    try {
      const picked = await call(commands.pickPath("projectFolder"));
      if (picked.path) await this.open(picked.path);
      else if (!picked.native) {
        this.app.say("No file dialog in the browser: type the project folder's path and press Enter.");
        this.pathInput.focus();
      }
    } catch (e) {
      this.app.error(e);
    }
  }

  async open(path: string): Promise<void> {
    if (!path.trim()) {
      this.pathInput.focus();
      return;
    }
    try {
      const ws = await call(commands.openWorkspace(path.trim()));
      this.app.setWorkspace(ws);
      this.app.say(`Opened ${ws.name}: ${ws.revisionCount} revisions, ${ws.problems.length} problem(s).`);
      await this.show();
    } catch (e) {
      this.app.error(e);
    }
  }
}

const KIND_WORDS: Record<string, string> = {
  config: "configuration",
  parse: "parse error",
  missingParent: "missing parent",
  cycle: "cycle",
  graph: "graph",
  warning: "warning",
};

export function shortPath(path: string, root: string): string {
  return path.startsWith(root + "/") ? path.slice(root.length + 1) : path;
}
