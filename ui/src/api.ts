// The generated commands, unwrapped: a failed command throws its ApiError.
import { commands } from "./bindings";
import type { ApiError } from "./bindings";

export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

export class CommandError extends Error {
  constructor(public readonly error: ApiError) {
    super(error.message);
  }
  get kind() {
    return this.error.kind;
  }
  get hint() {
    return this.error.hint;
  }
}

function asApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) return e as ApiError;
  return { kind: "internal", message: String((e as any)?.message ?? e), hint: null, hostKey: null };
}

export async function call<T>(result: Promise<Result<T, ApiError>>): Promise<T> {
  let r: Result<T, ApiError>;
  try {
    r = await result;
  } catch (e) {
    throw new CommandError(asApiError(e));
  }
  if (r.status === "error") throw new CommandError(asApiError(r.error));
  return r.data;
}

export { commands };
