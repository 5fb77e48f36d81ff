import { readFileSync } from "node:fs";

/** Resident set size of a process in bytes (Linux /proc), or NaN. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Child pids of a process (Linux /proc), recursively. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: string[] = [];
    try {
      kids = readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const k of kids) {
      out.push(Number(k));
      walk(Number(k));
    }
  };
  walk(pid);
  return out;
}

export const MB = 1024 * 1024;
