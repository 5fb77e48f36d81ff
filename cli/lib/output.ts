/** Output: JSON for scripts, a table for people on a terminal, tab-separated lines otherwise. */

export function isTTY(): boolean {
  return process.stdout.isTTY === true;
}

export function out(text = ""): void {
  process.stdout.write(text + "\n");
}

/** Notices and progress: stderr, so stdout stays clean for pipes. */
export function note(text: string): void {
  process.stderr.write(text + "\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export function iso(ms: number | null | undefined): string | null {
  return typeof ms === "number" ? new Date(ms).toISOString() : null;
}

/** "in 29d", "3h ago", "just now". */
export function relative(ms: number | null | undefined, now = Date.now()): string {
  if (typeof ms !== "number") return "never";
  const diff = ms - now;
  const abs = Math.abs(diff);
  if (abs < 60_000) return diff >= 0 ? "in <1m" : "just now";
  const units: [number, string][] = [
    [365 * 86_400_000, "y"],
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
  ];
  const [size, unit] = units.find(([size]) => abs >= size)!;
  const n = Math.floor(abs / size);
  return diff >= 0 ? `in ${n}${unit}` : `${n}${unit} ago`;
}

/** Columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** One line per row, cells joined by tabs (tabs/newlines inside cells become spaces). */
export function tsv(rows: string[][]): string {
  return rows.map((r) => r.map((c) => c.replace(/[\t\r\n]+/g, " ")).join("\t")).join("\n");
}

/** `label  value` pairs, aligned. */
export function fields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}
