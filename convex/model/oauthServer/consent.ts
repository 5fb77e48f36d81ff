/**
 * Consent: the stored authorization request (authorize.ts) is shown to the
 * signed-in person in the dashboard, who picks where the app may act (one
 * workspace, one organization, or all of their organizations) and which of
 * the requested permissions it gets — never more than their role grants
 * there — and approves or denies. Approval mints a single-use authorization
 * code (2 minutes) bound to the client, redirect URI, PKCE challenge and
 * resource; either way the browser goes back to the client's redirect URI
 * with `state` and `iss`.
 *
 * The request id in the consent URL is 256 random bits, stored hashed, good
 * for 10 minutes and one decision.
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { actorOf, logAudit } from "../audit";
import { randomToken, sha256Hex } from "../crypto";
import { keyholeError } from "../errors";
import { PERMISSIONS, PERSONAL_PERMISSIONS, type Permission, roleGrants } from "../permissions";
import { requestInfo } from "../principal";
import { consume, type Limit } from "../rateLimit";
import { parseResource, type ScopeEntry } from "../scopes";
import { vPermission } from "../../validators";
import { redirectWith } from "./authorize";
import { clientById } from "./clients";
import { AUTH_REQUEST_TTL_MS, CODE_TTL_MS, isLoopbackHost, resourceUrl } from "./config";
import type { UserMutationCtx, UserQueryCtx } from "../functions";

export const AUTH_REQUESTS_PER_IP: Limit = { max: 60, windowMs: 10 * 60_000 };
const MAX_ORGS = 100;
const MAX_WORKSPACES = 100;

export type AuthRequestInput = {
  clientId: string;
  redirectUri: string;
  state?: string;
  codeChallenge: string;
  resource: string;
  permissions: string[];
};

/** Stores a checked authorization request; returns the id for the consent URL. */
export async function createAuthRequest(
  ctx: MutationCtx,
  r: AuthRequestInput,
): Promise<{ ok: true; requestId: string } | { ok: false }> {
  const info = await requestInfo(ctx);
  if ((await consume(ctx, `oauth-authorize:ip:${info.ip ?? "unknown"}`, AUTH_REQUESTS_PER_IP)) > 0) return { ok: false };
  const requestId = randomToken(32);
  const now = Date.now();
  await ctx.db.insert("oauthAuthRequests", {
    requestHash: await sha256Hex(requestId),
    ...r,
    createdAt: now,
    expiresAt: now + AUTH_REQUEST_TTL_MS,
  });
  return { ok: true, requestId };
}

async function pendingRequest(ctx: QueryCtx, requestId: string): Promise<Doc<"oauthAuthRequests">> {
  const gone = keyholeError("not_found", "this authorization request has expired or was already answered: start again from the app");
  if (requestId.length === 0 || requestId.length > 100) throw gone;
  const requestHash = await sha256Hex(requestId);
  const row = await ctx.db
    .query("oauthAuthRequests")
    .withIndex("by_hash", (q) => q.eq("requestHash", requestHash))
    .unique();
  if (row === null || row.decidedAt !== undefined || row.expiresAt <= Date.now()) throw gone;
  return row;
}

export const vConsentRequest = v.object({
  client: v.object({
    name: v.string(),
    clientId: v.string(),
    /** "cimd": its identity is the https URL of its metadata document (host below); "dcr": it registered itself. */
    kind: v.union(v.literal("dcr"), v.literal("cimd")),
    host: v.union(v.string(), v.null()),
    clientUri: v.union(v.string(), v.null()),
  }),
  redirectUri: v.string(),
  /** True when the redirect goes to a program on this computer (a loopback address). */
  redirectLocal: v.boolean(),
  resource: v.string(),
  resourceName: v.string(),
  requested: v.array(v.string()),
  orgs: v.array(
    v.object({
      slug: v.string(),
      name: v.string(),
      role: v.string(),
      grantable: v.array(v.string()),
      workspaces: v.array(v.object({ slug: v.string(), name: v.string() })),
    }),
  ),
  expiresAt: v.number(),
});
export type ConsentRequest = Infer<typeof vConsentRequest>;

/** The person's organizations with their role and workspaces (bounded). */
async function myOrgs(ctx: QueryCtx, userId: Id<"users">) {
  const memberships = await ctx.db
    .query("memberships")
    .withIndex("by_user_org", (q) => q.eq("userId", userId))
    .take(MAX_ORGS);
  const out = [];
  for (const m of memberships) {
    const org = await ctx.db.get("orgs", m.orgId);
    if (org === null) continue;
    const workspaces = await ctx.db
      .query("workspaces")
      .withIndex("by_org_slug", (q) => q.eq("orgId", org._id))
      .take(MAX_WORKSPACES);
    out.push({ org, role: m.role, workspaces });
  }
  return out;
}

/** What the consent screen shows. Only a signed-in person (not a token) may see it. */
export async function getConsentRequest(ctx: UserQueryCtx, requestId: string): Promise<ConsentRequest> {
  const user = ctx.user;
  const r = await pendingRequest(ctx, requestId);
  const client = await clientById(ctx, r.clientId);
  if (client === null) throw keyholeError("not_found", "this application is no longer registered: start again from the app");
  const redirect = new URL(r.redirectUri);
  const orgs = await myOrgs(ctx, user.userId);
  return {
    client: {
      name: client.name,
      clientId: client.clientId,
      kind: client.kind,
      host: client.kind === "cimd" ? new URL(client.clientId).host : null,
      clientUri: client.clientUri ?? null,
    },
    redirectUri: r.redirectUri,
    redirectLocal: (redirect.protocol === "http:" || redirect.protocol === "https:") && isLoopbackHost(redirect.hostname),
    resource: r.resource,
    resourceName: r.resource === resourceUrl("api") ? "the keyhole HTTP API" : "the keyhole MCP server",
    requested: r.permissions,
    orgs: orgs.map(({ org, role, workspaces }) => ({
      slug: org.slug,
      name: org.name,
      role,
      grantable: PERMISSIONS.filter((p) => PERSONAL_PERMISSIONS.has(p) || roleGrants(role, p)),
      workspaces: workspaces.map((w) => ({ slug: w.slug, name: w.name })),
    })),
    expiresAt: r.expiresAt,
  };
}

export type Decision = { request: string; approve: boolean; resource: string | null; permissions: Permission[] };

/**
 * The scope entries a consent produces: the org permissions on the chosen
 * resource (or everywhere), personal ones on a global entry. Refuses anything
 * beyond the person's role there, or not requested.
 */
export async function consentScopes(
  ctx: QueryCtx,
  userId: Id<"users">,
  requested: string[],
  d: Pick<Decision, "resource" | "permissions">,
): Promise<ScopeEntry[]> {
  const perms = [...new Set(d.permissions)];
  if (perms.length === 0) throw keyholeError("invalid_argument", "choose at least one permission, or deny");
  const extra = perms.filter((p) => !requested.includes(p));
  if (extra.length > 0) throw keyholeError("invalid_argument", `not requested by the application: ${extra.join(", ")}`);
  const orgPerms = perms.filter((p) => !PERSONAL_PERMISSIONS.has(p));
  const personal = perms.filter((p) => PERSONAL_PERMISSIONS.has(p));
  const orgs = await myOrgs(ctx, userId);
  if (d.resource === null) {
    const beyond = orgPerms.filter((p) => !orgs.some((o) => roleGrants(o.role, p)));
    if (beyond.length > 0) throw keyholeError("forbidden", `none of your roles grants ${beyond.join(", ")}`);
    return [{ permissions: perms }];
  }
  const target = parseResource(d.resource);
  const mine = target?.org === undefined ? undefined : orgs.find((o) => o.org.slug === target.org);
  if (target === null || mine === undefined || (target.workspace !== undefined && !mine.workspaces.some((w) => w.slug === target.workspace))) {
    throw keyholeError("forbidden", `no access to "${d.resource}"`);
  }
  const beyond = orgPerms.filter((p) => !roleGrants(mine.role, p));
  if (beyond.length > 0) throw keyholeError("forbidden", `your role ${mine.role} in ${mine.org.slug} does not grant ${beyond.join(", ")}`);
  const entries: ScopeEntry[] = [];
  if (orgPerms.length > 0) entries.push({ resource: d.resource, permissions: orgPerms });
  if (personal.length > 0) entries.push({ permissions: personal });
  return entries;
}

/** Approves (mints the code) or denies; returns where to send the browser. */
export async function decideConsent(ctx: UserMutationCtx, d: Decision): Promise<{ redirectTo: string }> {
  const user = ctx.user;
  const r = await pendingRequest(ctx, d.request);
  const client = await clientById(ctx, r.clientId);
  const now = Date.now();
  const audit = (action: string, details: string) =>
    logAudit(ctx, {
      userId: user.userId,
      action,
      actor: actorOf(user),
      targetType: "oauthClient",
      targetId: r.clientId.slice(0, 200),
      details: `client=${(client?.name ?? "?").slice(0, 80)} ${details}`,
    });
  if (!d.approve) {
    await ctx.db.patch("oauthAuthRequests", r._id, { decidedAt: now });
    await audit("oauth.consent_denied", `resource=${r.resource}`);
    return { redirectTo: redirectWith(r.redirectUri, { error: "access_denied", error_description: "the person denied access", state: r.state }) };
  }
  const scopes = await consentScopes(ctx, user.userId, r.permissions, d);
  await ctx.db.patch("oauthAuthRequests", r._id, { decidedAt: now });
  const code = `khac_${randomToken(32)}`;
  await ctx.db.insert("oauthCodes", {
    codeHash: await sha256Hex(code),
    clientId: r.clientId,
    userId: user.userId,
    redirectUri: r.redirectUri,
    codeChallenge: r.codeChallenge,
    resource: r.resource,
    permissions: [...new Set(d.permissions)],
    scopes,
    createdAt: now,
    expiresAt: now + CODE_TTL_MS,
  });
  await audit("oauth.consent_approved", `resource=${r.resource} where=${d.resource ?? "*"} scope=${[...new Set(d.permissions)].join(" ")}`);
  return { redirectTo: redirectWith(r.redirectUri, { code, state: r.state }) };
}

export const vDecision = {
  request: v.string(),
  approve: v.boolean(),
  resource: v.union(v.string(), v.null()),
  permissions: v.array(vPermission),
};
