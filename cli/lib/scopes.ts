/**
 * The `--scope` and `--scopes-json` flags. Shorthand strings are passed
 * through unchanged (the backend parses and validates them against the
 * permission catalog); this only rejects input that cannot be a scope at all,
 * so a typo fails fast with exit code 2.
 */
import { formatScopes, type ScopeEntry, type ScopeInput } from "../../shared/scopes";
import { UsageError } from "./errors";

export { formatScopes, type ScopeEntry, type ScopeInput };

/** One `--scope` value: `org/workspace=perms`, `org=perms`, `perms` or `*`. */
export function checkScopeFlag(raw: string): string {
  const s = raw.trim();
  if (s.length === 0) throw new UsageError("--scope needs a value, e.g. --scope acme/site=work:read");
  if (s === "*") return s;
  const eq = s.indexOf("=");
  const resource = eq === -1 ? undefined : s.slice(0, eq).trim();
  const perms = (eq === -1 ? s : s.slice(eq + 1)).split(",").map((p) => p.trim());
  if (resource !== undefined && resource.length === 0) {
    throw new UsageError(`--scope "${s}": the org or org/workspace before "=" is empty`);
  }
  if (resource !== undefined && /[\s=]/.test(resource)) {
    throw new UsageError(`--scope "${s}": "${resource}" is not an org or org/workspace`);
  }
  if (perms.every((p) => p.length === 0)) {
    throw new UsageError(`--scope "${s}": no permissions given (e.g. ${resource ?? "acme"}=work:read)`);
  }
  if (perms.some((p) => /\s/.test(p))) {
    throw new UsageError(`--scope "${s}": separate permissions with commas, not spaces`);
  }
  return s;
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === "string");
}

/** `--scopes-json`: a JSON array of shorthand strings and/or entries. */
export function parseScopesJson(text: string): ScopeInput[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--scopes-json is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) {
    throw new UsageError(
      `--scopes-json must be a JSON array, e.g. '[{"resource":"acme/site","permissions":["work:read"],"allowedMatches":["Signal/*"]}]'`,
    );
  }
  return value.map((item, i): ScopeInput => {
    if (typeof item === "string") return checkScopeFlag(item);
    if (!item || typeof item !== "object" || Array.isArray(item)) {
      throw new UsageError(`--scopes-json entry ${i}: expected a string or an object`);
    }
    const o = item as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !["resource", "permissions", "allowedMatches"].includes(k));
    if (extra.length > 0) {
      throw new UsageError(
        `--scopes-json entry ${i}: unknown field "${extra[0]}" (allowed: resource, permissions, allowedMatches)`,
      );
    }
    if (!isStringArray(o.permissions)) {
      throw new UsageError(`--scopes-json entry ${i}: "permissions" must be an array of strings`);
    }
    if (o.resource !== undefined && typeof o.resource !== "string") {
      throw new UsageError(`--scopes-json entry ${i}: "resource" must be a string ("org" or "org/workspace")`);
    }
    if (o.allowedMatches !== undefined && !isStringArray(o.allowedMatches)) {
      throw new UsageError(`--scopes-json entry ${i}: "allowedMatches" must be an array of strings`);
    }
    const entry: ScopeEntry = { permissions: o.permissions };
    if (o.resource !== undefined) entry.resource = o.resource as string;
    if (o.allowedMatches !== undefined) entry.allowedMatches = o.allowedMatches as string[];
    return entry;
  });
}

/** The scopes to send, from the two mutually exclusive flags. [] = full role. */
export function scopesFromFlags(opts: { scope?: string[]; scopesJson?: string }): ScopeInput[] {
  if (opts.scope && opts.scope.length > 0 && opts.scopesJson !== undefined) {
    throw new UsageError("--scope and --scopes-json cannot be used together");
  }
  if (opts.scopesJson !== undefined) return parseScopesJson(opts.scopesJson);
  return (opts.scope ?? []).map(checkScopeFlag);
}

/** What "*" means, for people: connections:use is never part of the full role. */
export const FULL_ROLE_NOTE = "* = your full role, except connections:use (name it: --scope connections:use)";

/** Scopes for a human line: the shorthand, and what "*" means when it is the full role. */
export function describeScopes(entries: ScopeInput[] | undefined): string {
  return !entries || entries.length === 0 ? FULL_ROLE_NOTE : formatScopes(entries).join("  ");
}
