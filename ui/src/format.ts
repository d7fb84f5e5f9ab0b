// How sizes, durations, times, counts and errors read on every screen: one wording each, so a
// backup's size is the same text in the run dialog and on the Backups screen.
import { CommandError } from "./api";

/** Bytes in binary units with one decimal ("512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB"). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration in milliseconds: "850 ms" under a second, else seconds to the hundredth. */
export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(2)} s`;
}

/** A timestamp from the backend, in the user's locale (the text itself if it is not a date). */
export function when(text: string | null | undefined): string {
  if (!text) return "—";
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? text : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** "1 step", "3 steps"; `plural` for the words that take more than an s. */
export function count(n: number, word: string, plural = `${word}s`): string {
  return `${n} ${n === 1 ? word : plural}`;
}

/** A failed command's message and hint, or any other error's message. */
export function errorText(e: unknown): string {
  if (e instanceof CommandError) return e.hint ? `${e.message} — ${e.hint}` : e.message;
  return String((e as any)?.message ?? e);
}
