/**
 * Which organizations a credential can reach, from its scopes alone (the
 * owner's membership is checked separately). Pure.
 *
 * A scope list reaches org `acme` when it is blank (the owner's full role),
 * or has an entry for `acme` or one of its workspaces, or a global entry with
 * an org permission (personal permissions such as tokens:read never reach an
 * org). An agent session carries several lists (its own and its parent
 * PAT's): it reaches an org only when every list does.
 */
import { PERSONAL_PERMISSIONS, type Permission } from "../permissions";
import type { ScopeEntry } from "../scopes";

function entryReaches(e: ScopeEntry, org: string): boolean {
  if (e.resource === undefined) return e.permissions.some((p) => !PERSONAL_PERMISSIONS.has(p as Permission));
  return e.resource === org || e.resource.startsWith(`${org}/`);
}

/** The entries of one list that reach `org`; "full" for a blank list. */
export function reachingEntries(entries: ScopeEntry[], org: string): ScopeEntry[] | "full" {
  if (entries.length === 0) return "full";
  return entries.filter((e) => entryReaches(e, org));
}

/** Whether every scope list reaches `org`. */
export function reachesOrg(sets: ScopeEntry[][], org: string): boolean {
  return sets.every((s) => {
    const r = reachingEntries(s, org);
    return r === "full" || r.length > 0;
  });
}

/** Whether the lists name no scope at all (every list blank = the owner's full role). */
export function isFullRole(sets: ScopeEntry[][]): boolean {
  return sets.every((s) => s.length === 0);
}
