// Table rows from a stand-alone benchmark script's result JSON.
import { fmt, type BenchRow } from "./report";

/** "httpQuery" → "http query" */
function words(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([a-z])(\d)/g, "$1 $2")
    .toLowerCase();
}

/** Table rows from a script's result JSON: its own `rows`, else every rate/latency figure in it. */
export function rowsOf(title: string, data: Record<string, unknown>): BenchRow[] {
  if (Array.isArray(data.rows) && data.rows.every((r) => r && typeof r === "object" && "figure" in r)) return data.rows as BenchRow[];
  const rows: BenchRow[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        const o = item as Record<string, unknown>;
        const label = typeof o?.documents === "number" ? `${fmt.n(o.documents)} docs` : typeof o?.tokens === "number" ? `${fmt.n(o.tokens)} tokens` : String(i);
        walk(item, [...path, label]);
      });
      return;
    }
    const o = node as Record<string, unknown>;
    const num = (...keys: string[]) => {
      for (const k of keys) if (typeof o[k] === "number") return o[k] as number;
      return undefined;
    };
    const rate = num("perSecond", "rps", "opsPerSec");
    const p50 = num("p50Ms", "p50");
    const tail = num("p99Ms", "p99") ?? num("p95Ms", "p95");
    const tailName = num("p99Ms", "p99") !== undefined ? "p99" : "p95";
    if (rate !== undefined || p50 !== undefined) {
      const parts = [
        rate !== undefined ? `${Math.round(rate).toLocaleString("en-US")}/s` : null,
        p50 !== undefined ? `p50 ${fmt.ms(p50)}` : null,
        tail !== undefined ? `${tailName} ${fmt.ms(tail)}` : null,
      ].filter(Boolean);
      rows.push({ benchmark: title, case: path.map(words).join(", ") || "—", figure: parts.join(", "), notes: typeof o.n === "number" ? `n=${o.n}` : "" });
      return;
    }
    for (const [k, v] of Object.entries(o)) if (k !== "machine") walk(v, k === "results" ? path : [...path, k]);
  };
  walk(data, []);
  return rows.length ? rows : [{ benchmark: title, case: "—", figure: "see JSON", notes: "" }];
}

