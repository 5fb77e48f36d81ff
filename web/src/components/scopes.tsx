import type { ScopeEntry } from "../../../convex/model/scopes";

/** "work: read, write · members: read" — permissions grouped by area. */
export function formatPermissions(perms: readonly string[]): string {
  const groups = new Map<string, string[]>();
  for (const p of perms) {
    const [area, verb] = p.includes(":") ? p.split(":", 2) : [p, ""];
    const list = groups.get(area) ?? [];
    if (verb) list.push(verb);
    groups.set(area, list);
  }
  return [...groups].map(([area, verbs]) => (verbs.length ? `${area}: ${verbs.join(", ")}` : area)).join(" · ");
}

/** A token's scopes as readable chips: resource · permissions · name patterns. */
export function ScopeChips({ scopes }: { scopes: readonly ScopeEntry[] }) {
  if (scopes.length === 0) {
    return (
      <ul className="chips" aria-label="Scopes">
        <li
          className="chip chip-full"
          title="No narrowing: everything the owner's roles allow, except connections:use (it applies only when a scope names it)"
        >
          Full role <span className="chip-match">· no connections:use</span>
        </li>
      </ul>
    );
  }
  return (
    <ul className="chips" aria-label="Scopes">
      {scopes.map((s, i) => (
        <li className="chip" key={i}>
          <span className="chip-resource">{s.resource ?? "all resources"}</span>
          <span className="chip-sep" aria-hidden="true">
            ·
          </span>
          <span className="chip-perms">{formatPermissions(s.permissions)}</span>
          {s.allowedMatches !== undefined ? (
            <>
              <span className="chip-sep" aria-hidden="true">
                ·
              </span>
              <span className="chip-match">
                {s.allowedMatches.length === 0 ? "no items" : s.allowedMatches.map((m) => <code key={m}>{m}</code>)}
              </span>
            </>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
