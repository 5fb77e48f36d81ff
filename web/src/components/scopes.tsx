import type { ScopeEntry } from "../../../shared/scopes";
import { PERMISSION_DESCRIPTIONS, type Permission } from "../lib/permissions";

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
        <li className="chip chip-full">
          Full role — everything your roles allow <span className="chip-match">· except connections:use</span>
        </li>
      </ul>
    );
  }
  return (
    <ul className="chips" aria-label="Scopes">
      {scopes.map((s, i) => (
        <li className="chip" key={i}>
          <span className="chip-resource">{s.resource ?? "everywhere"}</span>
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

/** Every scope entry with its permissions in words (the token detail view). */
export function ScopeDetails({ scopes }: { scopes: readonly ScopeEntry[] }) {
  if (scopes.length === 0) {
    return <p className="notice notice-warn">Full role: everything your roles allow, in every organization you are in (except <code>connections:use</code>, which a token gets only when a scope names it).</p>;
  }
  return (
    <ul className="scope-details">
      {scopes.map((s, i) => (
        <li key={i}>
          <p className="scope-details-resource">
            <code>{s.resource ?? "everywhere"}</code>
            {s.allowedMatches !== undefined ? (
              <span className="muted small">
                {" "}
                · items: {s.allowedMatches.length === 0 ? "none" : s.allowedMatches.join(", ")}
              </span>
            ) : null}
          </p>
          <ul className="perm-list">
            {s.permissions.map((p) => (
              <li key={p}>
                <code>{p}</code> — {PERMISSION_DESCRIPTIONS[p as Permission] ?? p}
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}
