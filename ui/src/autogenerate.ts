// Autogenerate. Alembic projects: the models compared with a database by the project's own
// alembic, the operations listed with their risks and a box each, a live preview of the two
// functions alembic would write for the ones kept, then the file written by alembic. Native
// projects: the revision that turns the heads' schema into a database's, proven on a scratch
// database, shown whole (operations and SQL). Then the new revision is selected on the graph.
// A production database's name must be typed first, since its schema is read.
import type { App } from "./main";
import type { GraphScreen } from "./graph";
import { call, commands, CommandError } from "./api";
import { h, clear } from "./dom";
import { ConnectionPicker } from "./backups";
import { errorText } from "./format";
import type { AutogenerateInput, AutogenerateProposal, ProposedOperation } from "./bindings";

export class AutogenerateCard {
  readonly root = h("div", { class: "card conn-form autogenerate", id: "autogenerate-card", "data-testid": "autogenerate-card" });
  private readonly picker: ConnectionPicker;
  private readonly message = h("input", { name: "autogenMessage", placeholder: "add_posts_table", "aria-label": "Autogenerate message", "data-testid": "autogen-message", autocomplete: "off" });
  private readonly confirm = h("input", { name: "autogenConfirm", "aria-label": "Database name", "data-testid": "autogen-confirm", autocomplete: "off", hidden: true });
  private readonly confirmNote = h("p", { class: "banner warn small", "data-testid": "autogen-confirm-note", hidden: true });
  private readonly compare = h("button", { type: "button", class: "primary", "data-testid": "autogen-compare" }, "Compare with the models");
  private readonly body = h("div", { "data-testid": "autogen-body" });
  private proposal: AutogenerateProposal | null = null;
  private input: AutogenerateInput | null = null;
  private previewSeq = 0;

  constructor(private readonly app: App) {
    this.picker = new ConnectionPicker(app, null, () => this.sync());
    this.compare.addEventListener("click", () => void this.propose());
  }

  async show(): Promise<void> {
    // Busy until the connections are listed: the card is on the page before they are.
    this.root.setAttribute("aria-busy", "true");
    try {
      await this.render();
    } finally {
      this.root.removeAttribute("aria-busy");
    }
  }

  private async render(): Promise<void> {
    await this.picker.load();
    // Development databases first: a production schema is read only with its name typed.
    const order = (env: string | undefined) => (env === "development" ? 0 : env === "production" ? 2 : 1);
    const options = [...this.picker.select.options];
    options.sort((a, b) => order(this.picker.views.find((v) => v.name === a.value)?.environment) - order(this.picker.views.find((v) => v.name === b.value)?.environment));
    const keep = this.picker.select.value;
    this.picker.select.replaceChildren(...options);
    this.picker.select.value = keep || options[0]?.value || "";
    this.sync();
    const native = this.app.workspace?.kind === "native";
    this.compare.textContent = native ? "Compare with the database" : "Compare with the models";
    clear(
      this.root,
      h("h2", null, "Autogenerate"),
      h(
        "p",
        { class: "small muted", "data-testid": "autogen-intro" },
        native
          ? "Compares the schema the revisions build at the heads (in a scratch database) with a database someone changed, and proposes the revision that turns one into the other, proven on the scratch database first. Nothing is written before you choose."
          : "Compares the models (env.py's target_metadata) with a database at the heads, through the project's alembic. Nothing is written before you choose.",
      ),
      h("div", { class: "field" }, h("label", null, "Database"), this.picker.root),
      h("div", { class: "field" }, h("label", null, "Message"), this.message),
      this.confirmNote,
      h("div", { class: "field", hidden: true, "data-testid": "autogen-confirm-field" }, h("label", null, "Type its name"), this.confirm),
      h("div", { class: "buttons" }, this.compare),
      this.body,
    );
    this.sync();
  }

  private get production(): boolean {
    return this.picker.view?.environment === "production";
  }

  private sync(): void {
    const prod = this.production;
    this.confirm.hidden = !prod;
    const field = this.root.querySelector<HTMLElement>('[data-testid="autogen-confirm-field"]');
    if (field) field.hidden = !prod;
    this.confirmNote.hidden = !prod;
    if (prod) this.confirmNote.textContent = `${this.picker.label} is a production database: autogenerate reads its schema. Type its database name to go on.`;
  }

  private inputNow(): AutogenerateInput {
    return {
      connection: this.picker.value,
      password: this.picker.pass,
      confirmDatabase: this.production ? this.confirm.value.trim() || null : null,
      message: this.message.value,
      head: null,
    };
  }

  private async propose(): Promise<void> {
    const input = this.inputNow();
    this.compare.disabled = true;
    this.root.setAttribute("aria-busy", "true");
    clear(this.body, h("p", { class: "muted", "data-testid": "autogen-progress" }, `Starting the project's alembic against ${this.picker.label}…`));
    try {
      this.proposal = await call(commands.proposeAutogenerate(input));
      this.input = input;
      this.renderReview();
    } catch (e) {
      this.proposal = null;
      clear(this.body, failure(e));
    } finally {
      this.compare.disabled = false;
      this.root.removeAttribute("aria-busy");
    }
  }

  private renderReview(): void {
    const p = this.proposal;
    if (!p) return;
    if (!p.operations.length) {
      clear(this.body, h("p", { class: "good", "data-testid": "autogen-none" }, `No changes: the models match ${p.target.connection ?? p.target.url}.`));
      return;
    }
    // A native revision was proven whole (upgrade, then downgrade): nothing can be left out.
    const native = p.native;
    const boxes = p.operations.map((op, i) =>
      h("input", { type: "checkbox", checked: true, disabled: !!native, value: String(i), "data-testid": `autogen-keep-${i}`, onchange: () => void this.refreshPreview() }),
    );
    const rows = p.operations.map((op, i) => operationRow(op, i, boxes[i]));
    const write = h("button", { type: "button", class: "primary", "data-testid": "autogen-write" }, "Write the revision");
    const result = h("div", { "data-testid": "autogen-result" });
    write.addEventListener("click", () => void this.write(write, result));
    clear(
      this.body,
      h(
        "p",
        { class: "small", "data-testid": "autogen-summary" },
        `${p.operations.length} operation${p.operations.length === 1 ? "" : "s"} against ${p.target.connection ?? p.target.url} (${p.target.environment}). `,
        native ? `Proven on ${native.scratch}: the upgrade gives the database's schema, the downgrade the heads' again.` : "Uncheck what the revision should leave out.",
      ),
      h("ol", { class: "autogen-ops", "data-testid": "autogen-ops" }, rows),
      h("div", { class: "autogen-preview", "data-testid": "autogen-preview" }),
      h("div", { class: "buttons" }, write),
      result,
    );
    if (native) this.showSql(native.upSql, native.downSql);
    else void this.refreshPreview();
  }

  /** A native revision's two sections, as the file will have them. */
  private showSql(up: string, down: string): void {
    const box = this.body.querySelector<HTMLElement>('[data-testid="autogen-preview"]');
    if (!box) return;
    clear(
      box,
      h("h3", null, "-- migrate:up"),
      h("pre", { class: "sql", "data-testid": "autogen-preview-upgrade" }, up),
      h("h3", null, "-- migrate:down"),
      h("pre", { class: "sql", "data-testid": "autogen-preview-downgrade" }, down),
    );
  }

  private kept(): number[] {
    return [...this.body.querySelectorAll<HTMLInputElement>('.autogen-ops input[type="checkbox"]')].filter((b) => b.checked).map((b) => Number(b.value));
  }

  private async refreshPreview(): Promise<void> {
    const p = this.proposal;
    const input = this.input;
    const box = this.body.querySelector<HTMLElement>('[data-testid="autogen-preview"]');
    if (!p || !input || !box) return;
    const seq = ++this.previewSeq;
    box.setAttribute("aria-busy", "true");
    try {
      const preview = await call(commands.previewAutogenerate({ input, reviewed: p.operations, keep: this.kept() }));
      if (seq !== this.previewSeq) return;
      clear(
        box,
        h("h3", null, "upgrade()"),
        h("pre", { class: "sql", "data-testid": "autogen-preview-upgrade" }, preview.upgrade),
        h("h3", null, "downgrade()"),
        h("pre", { class: "sql", "data-testid": "autogen-preview-downgrade" }, preview.downgrade),
      );
    } catch (e) {
      if (seq === this.previewSeq) clear(box, failure(e));
    } finally {
      if (seq === this.previewSeq) box.removeAttribute("aria-busy");
    }
  }

  private async write(button: HTMLButtonElement, result: HTMLElement): Promise<void> {
    const p = this.proposal;
    const input = this.input;
    if (!p || !input) return;
    button.disabled = true;
    try {
      const w = await call(commands.createAutogenerate({ input, reviewed: p.operations, keep: this.kept() }));
      this.app.say(`Revision ${w.revision} written to ${w.path} (${w.kept} of ${w.reviewed} operations).`);
      clear(result, h("p", { class: "good", "data-testid": "autogen-written" }, `✓ Written: ${w.path}`), w.warnings.map((x) => h("p", { class: "banner warn small" }, x)));
      this.app.setWorkspace(await call(commands.currentWorkspace()));
      this.proposal = null;
      await this.app.go("graph");
      this.app.screen<GraphScreen>("graph").selectId(w.revision);
    } catch (e) {
      button.disabled = false;
      clear(result, failure(e));
    }
  }
}

function operationRow(op: ProposedOperation, i: number, box: HTMLInputElement): HTMLElement {
  return h(
    "li",
    { class: `autogen-op${op.risks.length ? " risky" : ""}`, "data-kind": op.kind, "data-testid": `autogen-op-${i}` },
    h("label", null, box, " ", h("code", null, op.text)),
    op.risks.length ? h("ul", { class: "risks" }, op.risks.map((r) => h("li", { class: "warn", "data-testid": "autogen-risk" }, `⚠ ${r}`))) : null,
  );
}

function failure(e: unknown): HTMLElement {
  const message = e instanceof CommandError ? e.message : errorText(e);
  const hint = e instanceof CommandError ? e.hint : null;
  return h("div", { class: "report failed card", "data-testid": "autogen-error" }, h("p", { class: "bad" }, message), hint ? h("p", { class: "advice", "data-testid": "autogen-hint" }, hint) : null);
}
