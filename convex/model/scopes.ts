/**
 * The scope algebra, pure: parsing the shorthand strings, normalizing entries,
 * and deciding whether a list of entries allows (permission, target, item).
 *
 * An entry is `{resource?, permissions, allowedMatches?}` with resource
 * `org/workspace`, `org`, or omitted (everything). The most specific entry
 * tier that names the target wins; `allowedMatches` globs restrict item names
 * and `[]` denies every item. An empty list of entries means "full role",
 * except the named-only permissions (connections:use).
 */
import { GLOB_SYNTAX, MAX_GLOB_LENGTH, MAX_GLOBS_PER_ENTRY, MAX_GLOBS_PER_TOKEN, matchesGlob } from "./glob";
import { isPermission, NAMED_ONLY_PERMISSIONS, type Permission } from "./permissions";

export type ScopeEntry = {
  resource?: string;
  permissions: string[];
  allowedMatches?: string[];
};
export type ScopeInput = string | ScopeEntry;

/** Where a permission is being exercised. */
export type Target = { org?: string; workspace?: string };

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function isSlug(s: string): boolean {
  return SLUG.test(s);
}

/** `acme` or `acme/site`; null when malformed. */
export function parseResource(resource: string): Target | null {
  const parts = resource.split("/");
  if (parts.length === 1 && isSlug(parts[0])) return { org: parts[0] };
  if (parts.length === 2 && isSlug(parts[0]) && isSlug(parts[1])) {
    return { org: parts[0], workspace: parts[1] };
  }
  return null;
}

export class ScopeError extends Error {}

/** Shorthand: `"work:read"`, `"acme=work:read"`, `"acme/site=work:read,work:write"`. */
export function parseScopeString(s: string): ScopeEntry | "*" {
  const text = s.trim();
  if (text === "*") return "*";
  const eq = text.indexOf("=");
  const resource = eq === -1 ? undefined : text.slice(0, eq).trim();
  const perms = (eq === -1 ? text : text.slice(eq + 1))
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (resource !== undefined && resource.length === 0) {
    throw new ScopeError(`scope "${s}": the resource before "=" is empty`);
  }
  return resource === undefined ? { permissions: perms } : { resource, permissions: perms };
}

export type NormalizedScopes = {
  /** [] = full role. */
  entries: ScopeEntry[];
  warnings: string[];
};

/**
 * Validates and normalizes scope input (syntax only; membership of the named
 * orgs/workspaces is checked by the caller, which has the database).
 * Throws ScopeError with a message that says what is allowed.
 */
export function normalizeScopes(input: ScopeInput[] | undefined): NormalizedScopes {
  const warnings: string[] = [];
  if (input === undefined || input.length === 0) return { entries: [], warnings };
  if (input.length > 50) throw new ScopeError("at most 50 scope entries are allowed");
  const parsed = input.map((s) => (typeof s === "string" ? parseScopeString(s) : s));
  if (parsed.includes("*")) {
    if (parsed.length > 1) throw new ScopeError(`"*" (full role) cannot be combined with other scopes`);
    return { entries: [], warnings };
  }
  const seen = new Set<string>();
  const entries: ScopeEntry[] = [];
  let globCount = 0;
  for (const e of parsed as ScopeEntry[]) {
    if (e.resource !== undefined && parseResource(e.resource) === null) {
      throw new ScopeError(
        `scope resource "${e.resource}" is malformed: use "org" or "org/workspace" (lowercase letters, digits, "-")`,
      );
    }
    if (e.permissions.length === 0) {
      throw new ScopeError(`scope for ${e.resource ?? "all resources"} names no permissions`);
    }
    for (const p of e.permissions) {
      if (!isPermission(p)) throw new ScopeError(`unknown permission "${p}"`);
      const key = `${e.resource ?? "*"} ${p}`;
      if (seen.has(key)) {
        throw new ScopeError(`permission "${p}" is listed twice for ${e.resource ?? "all resources"}`);
      }
      seen.add(key);
    }
    const entry: ScopeEntry = { permissions: [...e.permissions] };
    if (e.resource !== undefined) entry.resource = e.resource;
    // Globs restrict items under any entry, org and global ones included:
    // dropping them there would widen the token (`[]` means no item).
    if (e.allowedMatches !== undefined) {
      checkGlobs(e.allowedMatches);
      globCount += e.allowedMatches.length;
      if (globCount > MAX_GLOBS_PER_TOKEN) {
        throw new ScopeError(`at most ${MAX_GLOBS_PER_TOKEN} allowedMatches patterns in all are allowed`);
      }
      entry.allowedMatches = [...e.allowedMatches];
    }
    entries.push(entry);
  }
  return { entries, warnings };
}

/** One entry's allowedMatches: count, length and characters (matching is linear-time: glob.ts). */
function checkGlobs(globs: string[]): void {
  if (globs.length > MAX_GLOBS_PER_ENTRY) {
    throw new ScopeError(`at most ${MAX_GLOBS_PER_ENTRY} allowedMatches patterns per entry are allowed`);
  }
  for (const g of globs) {
    const shown = JSON.stringify(g.slice(0, 40)) + (g.length > 40 ? "…" : "");
    if (g.length === 0 || g.length > MAX_GLOB_LENGTH || !GLOB_SYNTAX.test(g)) {
      throw new ScopeError(
        `allowedMatches pattern ${shown} is invalid: 1 to at most ${MAX_GLOB_LENGTH} characters of letters, digits, ` +
          `"_.-/" and the wildcards "*", "**", "?"`,
      );
    }
  }
}

/** The entries of the most specific tier that names the target. */
function winningTier(entries: ScopeEntry[], target: Target): ScopeEntry[] {
  const tiers: (string | undefined)[] = [];
  if (target.org !== undefined && target.workspace !== undefined) tiers.push(`${target.org}/${target.workspace}`);
  if (target.org !== undefined) tiers.push(target.org);
  tiers.push(undefined);
  for (const resource of tiers) {
    const tier = entries.filter((e) => e.resource === resource);
    if (tier.length > 0) return tier;
  }
  return [];
}

/**
 * Whether scope entries allow `permission` on `target` (and on `itemName`,
 * when given). Role is checked separately; this is only the token side.
 */
export function scopesAllow(
  entries: ScopeEntry[],
  permission: Permission,
  target: Target,
  itemName?: string,
): boolean {
  // Full role (no entries) never includes a named-only permission (connections:use).
  if (entries.length === 0) return !NAMED_ONLY_PERMISSIONS.has(permission);
  const granting = winningTier(entries, target).filter((e) => e.permissions.includes(permission));
  if (granting.length === 0) return false;
  if (itemName === undefined) return true;
  return granting.some(
    (e) => e.allowedMatches === undefined || e.allowedMatches.some((g) => matchesGlob(g, itemName)),
  );
}

/** Renders entries back to the shorthand, for humans (CLI, dashboard). */
export function formatScopes(entries: ScopeEntry[]): string[] {
  if (entries.length === 0) return ["*"];
  return entries.map((e) => {
    const base = e.resource ? `${e.resource}=${e.permissions.join(",")}` : e.permissions.join(",");
    return e.allowedMatches ? `${base} [${e.allowedMatches.join(" ")}]` : base;
  });
}
