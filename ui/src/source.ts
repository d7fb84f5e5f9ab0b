// The source view: a file of the project, highlighted, with a line marked.
import type { App } from "./main";
import { call, commands } from "./api";
import { h, clear } from "./dom";
import { highlight } from "./highlight";
import type { SourceFile } from "./bindings";

export function renderSource(file: SourceFile, mark: number | null = null): HTMLElement {
  const lines = highlight(file.text, file.language);
  const pre = h("pre", { class: "code", "data-language": file.language });
  lines.forEach((html, i) => {
    const line = h("span", { class: i + 1 === mark ? "line marked" : "line", "data-line": String(i + 1) });
    line.innerHTML = html + "\n";
    pre.append(line);
  });
  return pre;
}

export class SourceViewer {
  readonly root = h("dialog", { class: "source-dialog", "aria-label": "Source" });
  private returnFocus: HTMLElement | null = null;

  constructor(private readonly app: App) {
    this.root.addEventListener("close", () => this.returnFocus?.focus());
  }

  async open(path: string, line: number | null): Promise<void> {
    this.returnFocus = document.activeElement as HTMLElement | null;
    try {
      const file = await call(commands.readSource(path));
      const body = renderSource(file, line);
      clear(
        this.root,
        h(
          "header",
          null,
          h("code", { class: "path" }, line ? `${file.path}:${line}` : file.path),
          h("button", { class: "close", onclick: () => this.root.close(), "aria-label": "Close" }, "✕"),
        ),
        body,
      );
      this.root.showModal();
      body.querySelector(".marked")?.scrollIntoView({ block: "center" });
    } catch (e) {
      this.app.error(e);
    }
  }
}
