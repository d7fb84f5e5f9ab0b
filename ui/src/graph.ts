// History graph: the revision DAG in lanes (laid out by the core), newest at the top, drawn
// one visible row at a time (SVG per row), with the selected connection's applied and pending
// revisions, every bound connection as a chip on its current revision(s), search, zoom, fit,
// keyboard moves, and a detail panel with the revision's source. Scrolling reuses the row
// elements still in view and fills only the rows that came into view.
import type { App, Screen } from "./main";
import { call, commands } from "./api";
import { h, clear, esc } from "./dom";
import { count } from "./format";
import { renderSource } from "./source";
import { nodeActions, nodeMenu, openRunDialog } from "./runs";
import type { ConnectionPosition, GraphLayout, GraphNode, RevisionDetail } from "./bindings";

const ROW = 30;
const LANE = 16;
const OVERSCAN = 8;
const PALETTE = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#bc4c00", "#0a7b83", "#9a6700", "#cf222e"];

export class GraphScreen implements Screen {
  readonly root = h("section", { class: "screen graph", "aria-label": "History graph" });
  private layout: GraphLayout | null = null;
  private positions: ConnectionPosition[] = [];
  private children: number[][] = [];
  private rowOf = new Map<string, number>();
  private chips = new Map<number, ConnectionPosition[]>();
  private applied: Uint8Array | null = null;
  private overlay: string | null = null;
  private selected = -1;
  private matches: number[] = [];
  private matchSet = new Set<number>();
  private matchAt = -1;
  private zoom = 1;
  private raf = 0;
  private detailTimer = 0;
  private painted = false;
  /** The rows on screen: row index → its element, and the content generation it shows. */
  private drawn = new Map<number, HTMLElement>();
  private drawnGen = new WeakMap<HTMLElement, number>();
  private generation = 0;
  private drawnZoom = 0;
  /** Each row's SVG line pieces at the current zoom. */
  private svgCache: (string | undefined)[] = [];
  /** Heads picked (Ctrl+click) for a merge. */
  private picked = new Set<string>();
  private readonly mergeButton = h("button", { "data-testid": "open-merge", onclick: () => this.mergePicked() }, "Merge all heads…");

  private readonly viewport = h("div", { class: "graph-viewport", tabindex: "0", role: "listbox", "aria-label": "Revisions, newest first", "data-testid": "graph" });
  private readonly spacer = h("div", { class: "graph-spacer" });
  private readonly rows = h("div", { class: "graph-rows" });
  private readonly detail = h("aside", { class: "detail", "aria-label": "Revision detail", "data-testid": "detail" });
  private readonly search = h("input", { type: "search", placeholder: "Search id, message, label  ( / )", "aria-label": "Search revisions", "data-testid": "search" });
  private readonly searchCount = h("span", { class: "small muted", "aria-live": "polite" });
  private readonly overlaySelect = h("select", { "aria-label": "Applied and pending for", "data-testid": "overlay" });
  private readonly legend = h("div", { class: "legend", "data-testid": "chips" });

  constructor(private readonly app: App) {
    this.viewport.append(this.spacer, this.rows);
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("keydown", (e) => this.key(e));
    this.rows.addEventListener("contextmenu", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-row]");
      if (!row) return;
      e.preventDefault();
      this.select(Number(row.dataset.row));
      nodeMenu(this.app, row.dataset.id!, this.overlay, e.clientX, e.clientY);
    });
    this.rows.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-row]");
      if (row && (e.ctrlKey || e.metaKey) && this.layout?.nodes[Number(row.dataset.row)]?.head) this.pick(row.dataset.id!);
      else if (row) this.select(Number(row.dataset.row), true);
    });
    this.search.addEventListener("input", () => this.find(this.search.value));
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.step(e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") {
        this.search.value = "";
        this.find("");
        this.viewport.focus();
      }
    });
    this.overlaySelect.addEventListener("change", () => {
      this.overlay = this.overlaySelect.value || null;
      this.computeApplied();
      this.redraw();
    });
    new ResizeObserver(() => this.schedule()).observe(this.viewport);
  }

  async show(): Promise<void> {
    const ws = this.app.workspace;
    if (!ws || !ws.graphAvailable) {
      clear(
        this.root,
        h("h1", null, "History graph"),
        h("p", { class: "muted" }, ws ? "The graph cannot be drawn: see the workspace's problems." : "Open a workspace first."),
        h("button", { onclick: () => this.app.go("workspace") }, "Go to the workspace"),
      );
      return;
    }
    const toolbar = h(
      "div",
      { class: "toolbar" },
      h("label", { class: "inline-label" }, "Applied / pending for ", this.overlaySelect),
      this.legend,
      h("span", { class: "spacer" }),
      this.search,
      this.searchCount,
      h("button", { onclick: () => this.step(-1), "aria-label": "Previous match", title: "Previous match (Shift+Enter)" }, "↑"),
      h("button", { onclick: () => this.step(1), "aria-label": "Next match", title: "Next match (Enter)" }, "↓"),
      h("button", { onclick: () => this.setZoom(this.zoom / 1.25), "aria-label": "Zoom out", title: "Zoom out (-)" }, "−"),
      h("button", { onclick: () => this.setZoom(this.zoom * 1.25), "aria-label": "Zoom in", title: "Zoom in (+)" }, "+"),
      h("button", { onclick: () => this.fit(), title: "Fit (f)", "data-testid": "fit" }, "Fit"),
      (this.app.workspace?.heads.length ?? 0) > 1 ? this.mergeButton : null,
      h("button", { onclick: () => void this.app.authoring.newRevision(this.selectedHead()), "data-testid": "open-new-revision", title: "A new revision on the selected head" }, "New revision…"),
      h("button", { onclick: () => openRunDialog(this.app, { connection: this.overlay }), "data-testid": "open-run" }, "Upgrade / downgrade…"),
    );
    clear(this.root, toolbar, h("div", { class: "graph-body" }, this.viewport, this.detail));
    if (!this.detail.hasChildNodes()) clear(this.detail, h("p", { class: "muted" }, "Select a revision (click, or ↑/↓ and Enter)."));
    await this.load();
  }

  private async load(): Promise<void> {
    try {
      const layout = await call(commands.graphLayout());
      this.setLayout(layout);
      this.render();
      this.viewport.focus({ preventScroll: true });
    } catch (e) {
      this.app.error(e);
      return;
    }
    try {
      this.positions = await call(commands.connectionPositions());
    } catch (e) {
      this.positions = [];
      this.app.error(e);
    }
    this.applyPositions();
  }

  /** The layout and its indexes (children, id → row). */
  setLayout(layout: GraphLayout): void {
    this.layout = layout;
    this.children = layout.nodes.map(() => []);
    this.rowOf.clear();
    layout.nodes.forEach((n, i) => {
      this.rowOf.set(n.id, i);
      for (const p of n.parents) this.children[p].push(i);
    });
    if (this.selected >= layout.nodes.length) this.selected = -1;
    this.spacer.style.height = `${layout.nodes.length * ROW * this.zoom}px`;
    this.svgCache = [];
    this.generation++;
    // Row numbers now mean other revisions: new elements, none reused for another revision.
    for (const el of this.drawn.values()) el.remove();
    this.drawn.clear();
    this.find(this.search.value);
  }

  private applyPositions(): void {
    this.chips.clear();
    for (const p of this.positions) {
      for (const id of p.revisions) {
        const row = this.rowOf.get(id);
        if (row === undefined) continue;
        const list = this.chips.get(row) ?? [];
        list.push(p);
        this.chips.set(row, list);
      }
    }
    const keep = this.overlay;
    clear(
      this.overlaySelect,
      h("option", { value: "" }, "(none)"),
      this.positions.map((p) => h("option", { value: p.name, disabled: !!p.error }, `${p.name} (${p.environment})${p.error ? " — unreadable" : ""}`)),
    );
    const usable = this.positions.filter((p) => !p.error);
    this.overlay = keep && usable.some((p) => p.name === keep) ? keep : (usable.find((p) => p.saved) ?? usable[0])?.name ?? null;
    this.overlaySelect.value = this.overlay ?? "";
    clear(
      this.legend,
      this.positions.map((p) =>
        h(
          "span",
          {
            class: `chip${p.error ? " unreadable" : ""}`,
            style: { background: p.color },
            title: p.error ? `${p.name}: ${p.error}` : `${p.name} (${p.environment}) at ${p.revisions.join(", ") || "base (nothing applied)"}`,
            "data-chip": p.name,
          },
          p.name,
          p.error ? " ⚠" : p.revisions.length === 0 ? " · base" : "",
        ),
      ),
    );
    this.computeApplied();
    this.redraw();
  }

  /** The overlay connection's applied revisions: the ancestors of its rows (dependencies too). */
  private computeApplied(): void {
    const layout = this.layout;
    const p = this.positions.find((x) => x.name === this.overlay);
    if (!layout || !p) {
      this.applied = null;
      return;
    }
    const applied = new Uint8Array(layout.nodes.length);
    const stack = p.revisions.map((id) => this.rowOf.get(id)).filter((r): r is number => r !== undefined);
    while (stack.length) {
      const r = stack.pop()!;
      if (applied[r]) continue;
      applied[r] = 1;
      const n = layout.nodes[r];
      for (const x of n.parents) if (!applied[x]) stack.push(x);
      for (const x of n.dependencies) if (!applied[x]) stack.push(x);
    }
    this.applied = applied;
  }

  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.render();
    });
  }

  /** Draws the visible rows only. Rows still visible since the last frame keep their DOM
   *  elements; a row scrolled out is refilled as the one scrolled in, so a scroll step costs
   *  the one or two rows that came into view. Rows are absolutely placed and contained, so a
   *  new row lays out on its own. */
  render(): void {
    const layout = this.layout;
    if (!layout) return;
    const rowH = ROW * this.zoom;
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowH) - OVERSCAN);
    const last = Math.min(layout.nodes.length, Math.ceil((top + height) / rowH) + OVERSCAN);
    if (this.drawnZoom !== this.zoom) {
      this.drawnZoom = this.zoom;
      this.rows.style.setProperty("--row-h", `${rowH}px`);
      this.rows.style.fontSize = `${Math.max(9, Math.min(16, 13 * this.zoom))}px`;
      this.svgCache = [];
      this.generation++;
    }
    // Rows scrolled out go back to the pool. A row still in view keeps its element, refilled
    // in place if it was drawn before the last change of content: an element shows another
    // row only after its own row left the view (a click aimed at a row never lands on another).
    const free: HTMLElement[] = [];
    for (const [i, el] of this.drawn) {
      if (i < first || i >= last) {
        this.drawn.delete(i);
        free.push(el);
      }
    }
    for (let i = first; i < last; i++) {
      let el = this.drawn.get(i);
      if (el && this.drawnGen.get(el) === this.generation) continue;
      el ??= free.pop() ?? this.rows.appendChild(document.createElement("div"));
      this.fillRow(el, layout.nodes[i], i, rowH);
      this.drawnGen.set(el, this.generation);
      this.drawn.set(i, el);
    }
    for (const el of free) el.remove();
    if (!this.painted) {
      this.painted = true;
      (window as any).__graphPaintedAt = performance.now();
    }
  }

  /** Redraws every visible row (the applied overlay, chips, zoom or layout changed). */
  private redraw(): void {
    this.generation++;
    this.render();
  }

  /** Selection, search matches and picked heads change classes only. */
  private restyle(): void {
    const layout = this.layout;
    if (!layout) return;
    for (const [i, el] of this.drawn) {
      const cls = this.rowClass(layout.nodes[i], i);
      if (el.className !== cls) el.className = cls;
      const sel = String(i === this.selected);
      if (el.getAttribute("aria-selected") !== sel) el.setAttribute("aria-selected", sel);
    }
  }

  private rowClass(n: GraphNode, i: number): string {
    const applied = this.applied ? this.applied[i] === 1 : null;
    const state = applied === null ? "" : applied ? " applied" : " pending";
    return `row${state}${i === this.selected ? " selected" : ""}${this.matchSet.has(i) ? " match" : ""}${this.picked.has(n.id) ? " picked" : ""}`;
  }

  /** A row's line pieces: they depend on the row and the zoom only, so they are kept. */
  private rowPaths(n: GraphNode, i: number, rowH: number, laneW: number): string {
    const cached = this.svgCache[i];
    if (cached !== undefined) return cached;
    const mid = rowH / 2;
    const x = (c: number) => c * laneW + laneW / 2;
    let paths = "";
    for (const s of n.segments) {
      const color = PALETTE[s.to % PALETTE.length];
      let d: string;
      if (s.part === "through") d = `M${x(s.from)},0V${rowH}`;
      else {
        const [y0, y1] = s.part === "top" ? [0, mid] : [mid, rowH];
        d = s.from === s.to ? `M${x(s.from)},${y0}V${y1}` : `M${x(s.from)},${y0}C${x(s.from)},${(y0 + y1) / 2} ${x(s.to)},${(y0 + y1) / 2} ${x(s.to)},${y1}`;
      }
      paths += `<path d="${d}" stroke="${s.part === "top" ? PALETTE[s.from % PALETTE.length] : color}"/>`;
    }
    this.svgCache[i] = paths;
    return paths;
  }

  private fillRow(el: HTMLElement, n: GraphNode, i: number, rowH: number): void {
    const layout = this.layout!;
    const laneW = LANE * this.zoom;
    const svgW = Math.max(1, layout.lanes) * laneW + laneW / 2;
    const mid = rowH / 2;
    const x = (c: number) => c * laneW + laneW / 2;
    const applied = this.applied ? this.applied[i] === 1 : null;
    const color = PALETTE[n.column % PALETTE.length];
    const r = Math.max(3, 5 * this.zoom);
    const dot =
      applied === false
        ? `<circle class="dot pending" cx="${x(n.column)}" cy="${mid}" r="${r}" stroke="${color}"/>`
        : `<circle class="dot" cx="${x(n.column)}" cy="${mid}" r="${r}" fill="${color}" stroke="${color}"/>` +
          (n.head ? `<circle cx="${x(n.column)}" cy="${mid}" r="${r + 3}" fill="none" stroke="${color}" stroke-width="1.5"/>` : "");
    let badges = "";
    if (n.head) badges += `<span class="badge head">head</span>`;
    if (n.branchpoint) badges += `<span class="badge branch">branchpoint</span>`;
    if (n.mergepoint) badges += `<span class="badge merge">mergepoint</span>`;
    if (n.base) badges += `<span class="badge base">base</span>`;
    for (const l of n.labels) badges += `<span class="label">${esc(l)}</span>`;
    let chips = "";
    for (const p of this.chips.get(i) ?? []) chips += `<span class="chip" style="background:${esc(p.color)}" title="${esc(p.name)} (${esc(p.environment)})" data-chip="${esc(p.name)}">${esc(p.name)}</span>`;
    el.className = this.rowClass(n, i);
    el.dataset.row = String(i);
    el.dataset.id = n.id;
    el.setAttribute("role", "option");
    el.setAttribute("aria-selected", String(i === this.selected));
    el.setAttribute("aria-posinset", String(i + 1));
    el.setAttribute("aria-setsize", String(layout.nodes.length));
    el.style.height = `${rowH}px`;
    el.style.transform = `translateY(${i * rowH}px)`;
    el.innerHTML =
      `<svg width="${svgW}" height="${rowH}" aria-hidden="true">${this.rowPaths(n, i, rowH, laneW)}${dot}</svg>` +
      `<span class="rev-id">${esc(n.short)}</span>${chips}${badges}<span class="msg">${esc(n.message)}</span>` +
      (applied === false ? `<span class="pending-tag">pending</span>` : "");
  }

  // ----- selection, keyboard, search, zoom ----------------------------------------------

  select(row: number, showDetail = false): void {
    const layout = this.layout;
    if (!layout || row < 0 || row >= layout.nodes.length) return;
    this.selected = row;
    this.reveal(row);
    this.render();
    this.restyle();
    this.viewport.setAttribute("aria-activedescendant", "");
    window.clearTimeout(this.detailTimer);
    const id = layout.nodes[row].id;
    this.detailTimer = window.setTimeout(() => void this.showDetail(id), showDetail ? 0 : 120);
  }

  /** Ctrl+click on a head: picks it for a merge (or unpicks it). */
  private pick(id: string): void {
    if (!this.picked.delete(id)) this.picked.add(id);
    this.mergeButton.textContent = this.picked.size >= 2 ? `Merge ${this.picked.size} picked heads…` : "Merge all heads…";
    this.app.say(this.picked.size ? `Picked for a merge: ${[...this.picked].join(", ")} (Ctrl+click heads)` : "");
    this.restyle();
  }

  private mergePicked(): void {
    const heads = this.picked.size >= 2 ? [...this.picked] : [];
    this.picked.clear();
    this.mergeButton.textContent = "Merge all heads…";
    void this.app.authoring.merge(heads);
  }

  private selectedHead(): string | null {
    const n = this.selected >= 0 ? this.layout?.nodes[this.selected] : undefined;
    return n?.head ? n.id : null;
  }

  private reveal(row: number): void {
    const rowH = ROW * this.zoom;
    const top = row * rowH;
    const v = this.viewport;
    if (top < v.scrollTop) v.scrollTop = top;
    else if (top + rowH > v.scrollTop + v.clientHeight) v.scrollTop = top + rowH - v.clientHeight;
  }

  selectId(id: string): void {
    const row = this.rowOf.get(id);
    if (row !== undefined) {
      this.select(row, true);
      this.viewport.focus({ preventScroll: true });
    }
  }

  private key(e: KeyboardEvent): void {
    const layout = this.layout;
    if (!layout) return;
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / (ROW * this.zoom)) - 1);
    const cur = this.selected < 0 ? -1 : this.selected;
    const moves: Record<string, () => number | null> = {
      ArrowDown: () => Math.min(layout.nodes.length - 1, cur + 1),
      j: () => Math.min(layout.nodes.length - 1, cur + 1),
      ArrowUp: () => Math.max(0, cur - 1),
      k: () => Math.max(0, cur - 1),
      PageDown: () => Math.min(layout.nodes.length - 1, cur + page),
      PageUp: () => Math.max(0, cur - page),
      Home: () => 0,
      End: () => layout.nodes.length - 1,
      ArrowLeft: () => (cur >= 0 ? layout.nodes[cur].parents[0] ?? null : null),
      ArrowRight: () => (cur >= 0 ? this.children[cur][0] ?? null : null),
    };
    if (e.key in moves) {
      e.preventDefault();
      const next = moves[e.key]();
      if (next !== null) this.select(next);
    } else if (e.key === "Enter" && cur >= 0) {
      e.preventDefault();
      void this.showDetail(layout.nodes[cur].id);
    } else if (e.key === "/") {
      e.preventDefault();
      this.search.focus();
    } else if (e.key === "+" || e.key === "=") this.setZoom(this.zoom * 1.25);
    else if (e.key === "-") this.setZoom(this.zoom / 1.25);
    else if (e.key === "f") this.fit();
  }

  private find(query: string): void {
    const q = query.trim().toLowerCase();
    this.matches = [];
    if (q && this.layout) {
      this.layout.nodes.forEach((n, i) => {
        if (n.id.toLowerCase().includes(q) || n.message.toLowerCase().includes(q) || n.labels.some((l) => l.toLowerCase().includes(q))) this.matches.push(i);
      });
    }
    this.matchSet = new Set(this.matches);
    this.matchAt = -1;
    this.searchCount.textContent = q ? count(this.matches.length, "match", "matches") : "";
    if (this.matches.length) this.step(1);
    else this.restyle();
  }

  private step(direction: number): void {
    if (!this.matches.length) return;
    this.matchAt = (this.matchAt + direction + this.matches.length) % this.matches.length;
    this.searchCount.textContent = `${this.matchAt + 1} / ${this.matches.length}`;
    this.select(this.matches[this.matchAt]);
  }

  private setZoom(z: number): void {
    const layout = this.layout;
    if (!layout) return;
    const anchor = this.viewport.scrollTop / (ROW * this.zoom);
    this.zoom = Math.min(2.5, Math.max(0.3, z));
    this.spacer.style.height = `${layout.nodes.length * ROW * this.zoom}px`;
    this.viewport.scrollTop = anchor * ROW * this.zoom;
    this.render();
  }

  /** Zooms so the whole graph fits the height (down to the smallest zoom), then shows the selection. */
  private fit(): void {
    const layout = this.layout;
    if (!layout) return;
    this.setZoom(this.viewport.clientHeight / (layout.nodes.length * ROW));
    if (this.selected >= 0) this.reveal(this.selected);
    this.render();
  }

  // ----- the detail panel ---------------------------------------------------------------

  private async showDetail(id: string): Promise<void> {
    let d: RevisionDetail;
    try {
      d = await call(commands.revisionDetail(id));
    } catch (e) {
      this.app.error(e);
      return;
    }
    const link = (rev: string) => h("button", { class: "link mono", onclick: () => this.selectId(rev) }, rev);
    const list = (ids: string[]) => (ids.length ? ids.map((r, i) => [i ? ", " : "", link(r)]) : "—");
    const row = this.rowOf.get(id);
    const here = row !== undefined ? this.chips.get(row) ?? [] : [];
    const appliedText = row !== undefined && this.applied && this.overlay ? (this.applied[row] ? `applied on ${this.overlay}` : `pending on ${this.overlay}`) : null;
    clear(
      this.detail,
      h("h2", { class: "mono" }, d.id),
      h("p", { class: "detail-msg" }, d.message || h("em", { class: "muted" }, "no message")),
      h(
        "p",
        null,
        d.head ? h("span", { class: "badge head" }, "head") : null,
        d.branchpoint ? h("span", { class: "badge branch" }, "branchpoint") : null,
        d.mergepoint ? h("span", { class: "badge merge" }, "mergepoint") : null,
        d.base ? h("span", { class: "badge base" }, "base") : null,
        d.labels.map((l) => h("span", { class: "label" }, l)),
        here.map((p) => h("span", { class: "chip", style: { background: p.color } }, p.name)),
        appliedText ? h("span", { class: "small muted" }, ` ${appliedText}`) : null,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Parents"),
        h("dd", { "data-testid": "parents" }, list(d.parents)),
        h("dt", null, "Children"),
        h("dd", { "data-testid": "children" }, list(d.children)),
        h("dt", null, "Depends on"),
        h("dd", null, list(d.dependsOn)),
        h("dt", null, "Created"),
        h("dd", null, d.createDate ?? "—"),
        h("dt", null, "File"),
        h("dd", { class: "mono small" }, d.path ?? "—"),
      ),
      d.longdoc && d.longdoc !== d.message ? h("pre", { class: "longdoc" }, d.longdoc) : null,
      nodeActions(this.app, d.id, this.overlay),
      d.source ? renderSource(d.source) : h("p", { class: "muted" }, d.sourceError ?? "No source file."),
    );
  }
}
