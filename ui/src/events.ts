// The backend's events, received once for the page (one Tauri listener or one EventSource)
// and handed to whoever asked for their kind. Every `on` returns its unsubscribe function,
// so a screen shown N times holds one handler, not N.
import { listen } from "@tauri-apps/api/event";
import type { ApiEvent } from "./bindings";

export type EventKind = ApiEvent["type"];
export type EventOf<K extends EventKind> = Extract<ApiEvent, { type: K }>;
type Handler = (event: ApiEvent) => void;

const handlers = new Map<EventKind, Set<Handler>>();
let receiving = false;

function dispatch(event: ApiEvent): void {
  handlers.get(event.type)?.forEach((handler) => handler(event));
}

/** Opened on the first subscription: by then installTransport has chosen IPC or HTTP. */
function receive(): void {
  if (receiving) return;
  receiving = true;
  if (!(window as any).__RETORT_HTTP__) {
    void listen<ApiEvent>("retort-event", (e) => dispatch(e.payload));
    return;
  }
  const source = new EventSource("/api/events", { withCredentials: true });
  source.addEventListener("retort-event", (e) => {
    let event: ApiEvent;
    try {
      event = JSON.parse((e as MessageEvent).data);
    } catch {
      return; // a malformed event is dropped
    }
    dispatch(event);
  });
}

/** Calls `handler` with every event of this kind until the returned function is called. */
export function on<K extends EventKind>(kind: K, handler: (event: EventOf<K>) => void): () => void {
  receive();
  let set = handlers.get(kind);
  if (!set) handlers.set(kind, (set = new Set()));
  const entry = handler as Handler;
  set.add(entry);
  return () => set.delete(entry);
}

/** Subscriptions that end together: a screen's while it is shown, a dialog's while it is open. */
export class Subscriptions {
  private offs: (() => void)[] = [];

  on<K extends EventKind>(kind: K, handler: (event: EventOf<K>) => void): void {
    this.offs.push(on(kind, handler));
  }

  clear(): void {
    for (const off of this.offs.splice(0)) off();
  }
}

/**
 * The progress of one run at a time, for a screen or dialog that starts runs. Events may
 * arrive after the command's answer (they travel on their own stream), so a run's handler
 * stays until the next run replaces it, not until the command returns; the run id keeps a
 * late event of an earlier run out of the next one's log.
 */
export class RunProgress {
  private off: (() => void) | null = null;

  follow<K extends "runProgress" | "backupProgress" | "roundTripProgress">(
    kind: K,
    runId: string,
    handler: (event: EventOf<K>) => void,
  ): void {
    this.off?.();
    this.off = on(kind, (event) => {
      if ((event as { runId: string }).runId === runId) handler(event);
    });
  }
}

/** The id the UI gives a run, so that the run's progress events can be told from others'. */
export const newRunId = (): string =>
  typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `run-${Date.now()}-${Math.random().toString(16).slice(2)}`;
