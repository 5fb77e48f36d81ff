/**
 * Org token policy: rules an organization sets for every PAT and agent
 * session that reaches it, enforced by authorize() on every request (one
 * marked call there), so a change applies to existing tokens at once.
 *
 *   maxLifetimeDays        a token living longer (expiresAt - createdAt) is refused
 *   requireExplicitScopes  a token with blank scopes (the owner's full role) is refused
 *   allowMcpClients=false  a token of type MCP, sessions minted from one, and MCP clients
 *                          signed in through keyhole's OAuth server (grants) are refused;
 *                          at /mcp every token is (checkMcpAllowed, when an MCP request authenticates)
 *   revokeUnusedAfterDays  a cron revokes tokens reaching the org that sat unused this long
 *                          (model/governance/lifecycle.ts); the revocation is what stops them
 *
 * The policy lives on the org document, which authorize() has already read,
 * and a child session's parent PAT was read by the liveness check, so a
 * check costs no read (a parentless session: one when the org caps lifetime or
 * turns MCP clients off).
 * Creating a token that a policy would refuse succeeds with a warning.
 */
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { internal } from "../../_generated/api";
import { actorOf, logAudit } from "../audit";
import { authorizePath, resolveResource } from "../authorize";
import { keyholeError } from "../errors";
import { requireUser, type Principal } from "../principal";
import type { ScopeEntry } from "../scopes";
import { isFullRole, reachesOrg } from "./reach";
import type { TokenPolicy } from "./validators";

export const DAY_MS = 24 * 3600_000;
export const POLICY_MAX_DAYS = 365;

type StoredPolicy = NonNullable<Doc<"orgs">["tokenPolicy"]>;

/** What a policy looks at in a credential. */
export type CredentialFacts = { lifetimeMs: number; fullRole: boolean; mcp: boolean };

export function patFacts(t: Pick<Doc<"apiTokens">, "createdAt" | "expiresAt" | "scopes" | "type">): CredentialFacts {
  return { lifetimeMs: t.expiresAt - t.createdAt, fullRole: t.scopes.length === 0, mcp: t.type === "MCP" };
}

/**
 * Facts of a session: a child is judged by its parent PAT's lifetime and
 * type; a session that is an OAuth grant (an MCP client that signed in
 * through keyhole's authorization server, model/oauthServer/) counts as MCP.
 * A session without a parent lives as long as its family (its refresh token
 * keeps it going until familyExpiresAt), however short one access token is:
 * `familyStartedAt` is when the family's first row was created (familyStart).
 */
export function sessionFacts(
  s: Doc<"agentSessions">,
  parent: Doc<"apiTokens"> | null,
  oauthGrant = false,
  familyStartedAt = s.createdAt,
): CredentialFacts {
  const sets = s.parentScopes ? [s.scopes, s.parentScopes] : [s.scopes];
  if (parent === null) return { lifetimeMs: s.familyExpiresAt - familyStartedAt, fullRole: isFullRole(sets), mcp: oauthGrant };
  return { ...patFacts(parent), fullRole: isFullRole(sets) };
}

/** When a session's family began: its first row (whose id is the familyId) was created. */
export async function familyStart(ctx: QueryCtx, s: Doc<"agentSessions">): Promise<number> {
  const firstId = s.familyId === s._id ? null : ctx.db.normalizeId("agentSessions", s.familyId);
  const first = firstId === null ? null : await ctx.db.get("agentSessions", firstId);
  return Math.min(first?.createdAt ?? s.createdAt, s.createdAt);
}

/** Whether a session is an OAuth grant (its rows carry the grant's audience: no read). */
export function isOAuthGrantSession(s: Doc<"agentSessions">): boolean {
  return s.audience !== undefined;
}

function days(ms: number): string {
  const d = ms / DAY_MS;
  const rounded = d < 1 ? Math.round(d * 100) / 100 : Math.round(d * 10) / 10;
  return `${rounded} day${rounded === 1 ? "" : "s"}`;
}

/** The rules of `policy` that `facts` break, each naming its rule. */
export function violations(policy: StoredPolicy | undefined, facts: CredentialFacts): string[] {
  if (!policy) return [];
  const out: string[] = [];
  if (policy.maxLifetimeDays !== undefined && facts.lifetimeMs > policy.maxLifetimeDays * DAY_MS) {
    out.push(`maxLifetimeDays is ${policy.maxLifetimeDays} and this token lives ${days(facts.lifetimeMs)}`);
  }
  if (policy.requireExplicitScopes === true && facts.fullRole) {
    out.push("requireExplicitScopes is on and this token has no scopes (it acts with its owner's full role)");
  }
  if (policy.allowMcpClients === false && facts.mcp) {
    out.push("allowMcpClients is off and this is an MCP client's token");
  }
  return out;
}

async function principalFacts(ctx: QueryCtx, p: Principal, policy: StoredPolicy): Promise<CredentialFacts | null> {
  if (p.kind === "user") return null;
  if (p.kind === "pat") return patFacts(p.token);
  const parent = p.parent; // read once, by the liveness check (principal.ts)
  const started = parent === null && policy.maxLifetimeDays !== undefined ? await familyStart(ctx, p.session) : undefined;
  return sessionFacts(p.session, parent, isOAuthGrantSession(p.session), started);
}

/**
 * Called by authorize() for every org-level decision: a PAT or an agent
 * session that breaks the org's token policy gets `forbidden`, with a
 * message that names the rule. People are not bound by token policy.
 */
export async function enforceTokenPolicy(ctx: QueryCtx, p: Principal, org: Doc<"orgs">): Promise<void> {
  if (p.kind === "user" || !org.tokenPolicy) return;
  const facts = await principalFacts(ctx, p, org.tokenPolicy);
  if (facts === null) return;
  const broken = violations(org.tokenPolicy, facts);
  if (broken.length > 0) {
    throw keyholeError("forbidden", `the token policy of "${org.slug}" refuses this token: ${broken.join("; ")}`);
  }
}

/**
 * For /mcp, before a tool touches `orgSlug`: an org whose policy turns MCP
 * clients off refuses every token there, whatever type it was created with —
 * the type is the creator's label, the endpoint is what makes the caller an
 * MCP client. People are not bound by token policy. Decided once per MCP
 * request, when it authenticates (model/http/authn.ts mcpRefusals).
 */
export async function checkMcpAllowed(ctx: QueryCtx, p: Principal, orgSlug: string): Promise<null> {
  const { org } = await resolveResource(ctx, orgSlug);
  if (p.kind !== "user" && org.tokenPolicy?.allowMcpClients === false) {
    throw keyholeError("forbidden", `the token policy of "${org.slug}" refuses this token: allowMcpClients is off and this is an MCP client`);
  }
  return null;
}

/** The policy with every rule spelled out (defaults: no limits, MCP allowed). */
export function policyView(org: Doc<"orgs">): TokenPolicy {
  const p = org.tokenPolicy ?? {};
  return {
    maxLifetimeDays: p.maxLifetimeDays ?? null,
    requireExplicitScopes: p.requireExplicitScopes ?? false,
    revokeUnusedAfterDays: p.revokeUnusedAfterDays ?? null,
    allowMcpClients: p.allowMcpClients ?? true,
    updatedAt: p.updatedAt ?? null,
    updatedBy: p.updatedBy ?? null,
  };
}

/** Any member (and a token with org:read) may read the policy its tokens live under. */
export async function getTokenPolicy(ctx: QueryCtx, orgSlug: string): Promise<TokenPolicy> {
  const { resource } = await authorizePath(ctx, "org:read", orgSlug);
  return policyView(resource.org);
}

export type PolicyInput = {
  maxLifetimeDays?: number | null;
  requireExplicitScopes?: boolean;
  revokeUnusedAfterDays?: number | null;
  allowMcpClients?: boolean;
};

function checkDays(name: string, value: number | null | undefined): void {
  if (value === undefined || value === null) return;
  if (!Number.isInteger(value) || value < 1 || value > POLICY_MAX_DAYS) {
    throw keyholeError("invalid_argument", `${name} is a whole number of days from 1 to ${POLICY_MAX_DAYS}, or null for no limit`);
  }
}

/** Sets the org's policy (a signed-in owner or admin: org:configure). Omitted fields stay; null clears a limit. */
export async function setTokenPolicy(ctx: MutationCtx, orgSlug: string, input: PolicyInput): Promise<TokenPolicy> {
  await requireUser(ctx, "change an organization's token policy");
  checkDays("maxLifetimeDays", input.maxLifetimeDays);
  checkDays("revokeUnusedAfterDays", input.revokeUnusedAfterDays);
  const { principal, resource } = await authorizePath(ctx, "org:configure", orgSlug);
  const org = resource.org;
  const current = org.tokenPolicy ?? {};
  const pick = <T>(next: T | null | undefined, prev: T | undefined): T | undefined =>
    next === undefined ? prev : next === null ? undefined : next;
  const next: StoredPolicy = {
    maxLifetimeDays: pick(input.maxLifetimeDays, current.maxLifetimeDays),
    requireExplicitScopes: pick(input.requireExplicitScopes, current.requireExplicitScopes),
    revokeUnusedAfterDays: pick(input.revokeUnusedAfterDays, current.revokeUnusedAfterDays),
    allowMcpClients: pick(input.allowMcpClients, current.allowMcpClients),
    updatedAt: Date.now(),
    updatedBy: principal.userId,
  };
  await ctx.db.patch("orgs", org._id, { tokenPolicy: next });
  const view = policyView({ ...org, tokenPolicy: next });
  await logAudit(ctx, {
    userId: principal.userId,
    action: "org.policy_changed",
    actor: actorOf(principal),
    targetType: "org",
    targetId: org._id,
    details: `org=${org.slug} maxLifetimeDays=${view.maxLifetimeDays ?? "-"} requireExplicitScopes=${view.requireExplicitScopes} revokeUnusedAfterDays=${view.revokeUnusedAfterDays ?? "-"} allowMcpClients=${view.allowMcpClients}`,
  });
  if (next.revokeUnusedAfterDays !== undefined) {
    // Applies at once: sweep this org now, not only at the next daily run.
    await ctx.scheduler.runAfter(0, internal.governance.sweepUnusedInOrg, { orgId: org._id, cursor: null });
  }
  return view;
}

/** Most orgs one person belongs to (model/orgs.ts MAX_ORGS_PER_USER). */
const MAX_ORGS = 100;

/**
 * Warnings for a token about to be created: one for every org it reaches
 * whose policy would refuse it there.
 */
export async function policyWarnings(
  ctx: QueryCtx,
  userId: Id<"users">,
  token: { scopes: ScopeEntry[]; lifetimeMs: number; type: "PAT" | "MCP" },
): Promise<string[]> {
  const memberships = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", userId))
    .take(MAX_ORGS);
  const facts: CredentialFacts = { lifetimeMs: token.lifetimeMs, fullRole: token.scopes.length === 0, mcp: token.type === "MCP" };
  const out: string[] = [];
  for (const m of memberships) {
    const org = await ctx.db.get("orgs", m.orgId);
    if (org === null || !org.tokenPolicy || !reachesOrg([token.scopes], org.slug)) continue;
    const broken = violations(org.tokenPolicy, facts);
    if (broken.length > 0) out.push(`the token policy of "${org.slug}" will refuse this token there: ${broken.join("; ")}`);
  }
  return out;
}
