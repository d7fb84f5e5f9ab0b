// How commands reach the backend: Tauri IPC in the desktop app, HTTP in `retort serve`.
// The generated bindings (bindings.ts) call `invoke` from @tauri-apps/api/core; in a browser
// that call is routed to POST /api/invoke/{command} (same names, same JSON, same errors). Events come the other way through events.ts.
import { mockIPC } from "@tauri-apps/api/mocks";

export const inTauri = (): boolean =>
  typeof window !== "undefined" && "__TAURI_INTERNALS__" in window && !(window as any).__RETORT_HTTP__;

/** Call once, before any command runs. */
export function installTransport(): void {
  if (inTauri()) return;
  (window as any).__RETORT_HTTP__ = true;
  mockIPC(async (cmd, args) => {
    const response = await fetch(`/api/invoke/${encodeURIComponent(cmd)}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args ?? {}),
    });
    const body = await response.json().catch(() => ({
      kind: "internal",
      message: `the server answered ${response.status} without a readable body`,
      hint: null,
    }));
    // Commands answer {status, data} or {status, error}; a transport failure is a 4xx with
    // the error itself. Throw a plain object, not an Error: the bindings turn it into
    // {status: "error", error}.
    if (!response.ok) throw body;
    if (body.status === "error") throw body.error;
    return body.data;
  });
}

