// Summarizes a V8 .cpuprofile (node --cpu-prof): the top functions by self
// time, and self time by package / file group, as percentages of samples.
//
//   npx tsx bench/lib/profile.ts <file.cpuprofile> [--top 25] [--after handleSite]
//                                [--stages fnA,fnB,...]
//
// --after NAME: count only samples from the first one with NAME on its stack
// (e.g. the site server's request handler: start-up is left out).
// --stages: total (inclusive) time of each named function — a sample counts
// for a function when it is anywhere on the sample's stack (work after an
// `await` runs from the microtask queue, so it counts for its own function,
// not for the caller that awaited it).
import { readFileSync } from "node:fs";
import { isMain } from "./report";

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

export type ProfileSummary = {
  totalMs: number;
  top: Array<{ fn: string; where: string; selfPct: number }>;
  groups: Array<{ group: string; selfPct: number }>;
};

/** Where a script lives, in a few words: a package name, a repo folder, or node internals. */
function groupOf(url: string): string {
  if (url === "") return "(native: syscalls, crypto, V8 builtins)";
  if (url.startsWith("node:")) return "node internals";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const repo = /\/(convex|local|bench)\/([^/]+\/)?/.exec(url);
  if (repo) return repo[1] === "convex" && repo[2] ? `convex/${repo[2]}` : `${repo[1]}/`;
  return url.replace(/^file:\/\//, "");
}

/** Index of the first sample with a frame named `name` on its stack (0 when none is given). */
function firstSampleIn(p: Profile, name: string | undefined): number {
  if (!name) return 0;
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const hit = new Map<number, boolean>();
  const onStack = (id: number): boolean => {
    const known = hit.get(id);
    if (known !== undefined) return known;
    const up = parent.get(id);
    const r = byId.get(id)!.callFrame.functionName === name || (up !== undefined && onStack(up));
    hit.set(id, r);
    return r;
  };
  const i = p.samples.findIndex((id) => onStack(id));
  return i === -1 ? p.samples.length : i;
}

export function summarizeProfile(p: Profile, topN = 25, after?: string): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = firstSampleIn(p, after); i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  const groups = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === "(idle)") continue;
    const where = url ? `${url.replace(/^.*\/(node_modules\/|work\/[^/]+\/)/, "")}:${lineNumber + 1}` : "";
    const key = `${functionName}@${where}`;
    const f = fns.get(key) ?? { fn: functionName || "(anonymous)", where, us: 0 };
    f.us += us;
    fns.set(key, f);
    const g = functionName.startsWith("(") && !url ? functionName : groupOf(url);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const busy = [...fns.values()].reduce((s, f) => s + f.us, 0) || 1;
  const pct = (us: number) => Math.round((us / busy) * 1000) / 10;
  return {
    totalMs: Math.round(busy / 1000),
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, topN).map((f) => ({ fn: f.fn, where: f.where, selfPct: pct(f.us) })),
    groups: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([group, us]) => ({ group, selfPct: pct(us) })),
  };
}

/** Inclusive share of busy time of each function named (by function name, wherever it is defined). */
export function stageShares(p: Profile, names: string[], after?: string): Array<{ fn: string; pct: number }> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const wanted = new Set(names);
  const memo = new Map<number, Set<string>>();
  const namesOn = (id: number): Set<string> => {
    let out = memo.get(id);
    if (out) return out;
    const up = parent.get(id);
    out = new Set(up === undefined ? [] : namesOn(up));
    const fn = byId.get(id)!.callFrame.functionName;
    if (wanted.has(fn)) out.add(fn);
    memo.set(id, out);
    return out;
  };
  const totals = new Map<string, number>();
  let busy = 0;
  for (let i = firstSampleIn(p, after); i < p.samples.length; i++) {
    const id = p.samples[i]!;
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    const dt = p.timeDeltas[i] ?? 0;
    busy += dt;
    for (const fn of namesOn(id)) totals.set(fn, (totals.get(fn) ?? 0) + dt);
  }
  return names.map((fn) => ({ fn, pct: Math.round(((totals.get(fn) ?? 0) / (busy || 1)) * 1000) / 10 }));
}

if (isMain(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: profile.ts <file.cpuprofile> [--top N]");
  const flag = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const s = summarizeProfile(profile, Number(flag("top") ?? 25), flag("after"));
  console.log(`busy CPU: ${s.totalMs} ms (idle excluded)\n\nself time by group:`);
  for (const g of s.groups.slice(0, 20)) console.log(`  ${String(g.selfPct).padStart(5)}%  ${g.group}`);
  console.log("\ntop functions by self time:");
  for (const f of s.top) console.log(`  ${String(f.selfPct).padStart(5)}%  ${f.fn}  ${f.where}`);
  const stages = flag("stages");
  if (stages) {
    console.log("\ntotal time (inclusive) of each stage:");
    for (const st of stageShares(profile, stages.split(","), flag("after"))) console.log(`  ${String(st.pct).padStart(5)}%  ${st.fn}`);
  }
}
