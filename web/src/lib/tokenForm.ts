/**
 * The token forms' checks, pure: the same rules the backend enforces
 * (shared/tokens.ts, shared/scopes.ts), worded for a person filling a form.
 * test/shared/parity.test.ts holds the dashboard and the backend to the
 * same answers.
 */
import { isValidGlob } from "../../../shared/glob";
import { normalizeScopes, ScopeError, type ScopeEntry } from "../../../shared/scopes";
import { isTokenName, MAX_DESCRIPTION, MAX_EXPIRES_IN_S, MIN_EXPIRES_IN_S } from "../../../shared/tokens";

/** One scope row of the form: `patterns` is the allowedMatches text as typed. */
export type Draft = { key: number; resource: string; permissions: string[]; patterns: string };

export function nameError(name: string): string | null {
  if (isTokenName(name)) return null;
  return name.length === 0 ? "Give the token a name." : "Use 1–64 letters, digits, “-” or “_”.";
}

export function descriptionError(description: string): string | null {
  return description.length > MAX_DESCRIPTION ? `At most ${MAX_DESCRIPTION} characters (${description.length} now).` : null;
}

/** `expiresIn` in seconds; null when no date is picked. */
export function expiryError(expiresIn: number | null): string | null {
  if (expiresIn === null) return "Pick a date.";
  if (expiresIn < MIN_EXPIRES_IN_S) return "Pick a date in the future.";
  if (expiresIn > MAX_EXPIRES_IN_S) return "Tokens last at most one year.";
  return null;
}

export function parsePatterns(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** What the form sends: one entry per row; patterns only on a workspace row. */
export function entriesOf(rows: Draft[]): ScopeEntry[] {
  return rows.map((d) => {
    const e: ScopeEntry = { permissions: d.permissions };
    if (d.resource !== "") e.resource = d.resource;
    const patterns = parsePatterns(d.patterns);
    if (d.resource.includes("/") && patterns.length > 0) e.allowedMatches = patterns;
    return e;
  });
}

/** Each row's own problem (null when fine). */
export function draftErrors(rows: Draft[]): (string | null)[] {
  return rows.map((d, i) => {
    if (d.permissions.length === 0) return "Choose at least one permission, or remove this scope.";
    if (rows.findIndex((o) => o.resource === d.resource) !== i) return "This resource already has a scope above; add the permissions there.";
    const bad = parsePatterns(d.patterns).find((p) => !isValidGlob(p));
    if (bad !== undefined) return `“${bad}” is not a valid pattern: letters, digits, “_ . - /” and the wildcards * ** ?`;
    return null;
  });
}

/** The scopes as a whole, once every row is fine: the backend's own syntax check. */
export function scopeError(rows: Draft[], rowErrors: (string | null)[]): string | null {
  if (rows.length === 0) return "Add a scope, or choose “Everything my roles allow”.";
  if (rowErrors.some((e) => e !== null)) return null;
  try {
    normalizeScopes(entriesOf(rows));
    return null;
  } catch (e) {
    return e instanceof ScopeError ? e.message : String(e);
  }
}

export type TokenFormInput = {
  name: string;
  description: string;
  expiresIn: number | null;
  /** false = "Everything my roles allow" (no rows sent). */
  scoped: boolean;
  rows: Draft[];
};

export type TokenFormErrors = {
  name: string | null;
  description: string | null;
  expiry: string | null;
  drafts: (string | null)[];
  scope: string | null;
  valid: boolean;
};

/** Every check of the create form; `activeNames` are the names of my active tokens. */
export function checkTokenForm(input: TokenFormInput, activeNames: ReadonlySet<string>): TokenFormErrors {
  const name =
    nameError(input.name) ?? (activeNames.has(input.name) ? `You already have an active token named “${input.name}”.` : null);
  const description = descriptionError(input.description);
  const expiry = expiryError(input.expiresIn);
  const drafts = input.scoped ? draftErrors(input.rows) : [];
  const scope = input.scoped ? scopeError(input.rows, drafts) : null;
  const scopesValid = scope === null && drafts.every((e) => e === null);
  return { name, description, expiry, drafts, scope, valid: !name && !description && !expiry && scopesValid };
}
